"""System ``imagine``: IMAGINE (Chen & Liang; ``../shared/papers/imagine.md``), emotion
causes, COMET knowledge and communication mechanisms for empathetic responses.

Stages of a run:

1. **fit** (before knowledge): the RECCON emotion-cause detector
   (:mod:`edg_imagine.cause_detector`) and the three EPITOME mechanism classifiers
   (:mod:`edg_imagine.mechanism_classifier`), each trained once and cached by the core.
2. **knowledge**: ``imagine.causes`` (:mod:`edg_imagine.cause_source`) writes the causes C
   that the fitted detector selects into the column ``imagine_causes``; then edg-comet's
   ``comet.imagine`` source (by registered name) reads them (``head: column``) and gives
   COMET's five tails for each of the 11 relations in four groups (§3.2.2: "for an input
   sequence C"). Without causes (``wo-cause``) COMET reads the whole context.
3. **prepare**: the FACE token weights of eq. 20–21 from the training responses.
4. **encode** (once per split): the context S, the causes C that the detector selects
   (eq. 4: ``[CLS] c_0 ... c_u`` with dialogue states), the four knowledge sequences,
   the mechanism labels of the reference response, ``[BOS] y`` / ``y [EOS]``.

The network is :class:`edg_imagine.model.ImagineModel`; losses: core ``nll`` (L_gen),
core ``emotion`` (L_emo), ``imagine.mechanisms`` (L_cm), ``imagine.diversity`` (L_div),
weights 1, 1, 1, 1.5 (eq. 23). Presets: ``tiny`` and the Table 2 ablations. See
``docs/plugins/imagine.md`` for the equation-to-code map and every choice the paper
leaves open.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from edg.api import BOS, CLS, EOS, build_dialogue_embedding, pad
from edg.config import StrictModel, deep_merge, validate
from edg.errors import ConfigError
from edg.interfaces.fitted import FitSpec
from edg.interfaces.system import System
from edg_imagine.epitome import MECHANISMS

CAUSE_DETECTOR = "cause_detector"
KNOWLEDGE_SOURCE = "comet.imagine"
KNOWLEDGE_FIELD = "comet_imagine"
CAUSE_SOURCE = "imagine.causes"
CAUSE_FIELD = "imagine_causes"
GROUPS = ("Affect", "Behaviour", "Physical", "Events")
ROLE_IDS = {"speaker": 0, "listener": 1}
EMPTY_AFFECT = "none"  # S_Affect has no [CLS]: an empty one is COMET's own "none" (a sequence is never empty)


def mechanism_component(mechanism: str) -> str:
    return f"mechanism_{mechanism}"


class ImagineOptions(StrictModel):
    d_model: int = 300
    """Embedding and hidden size d (Appendix B: 300)."""
    embeddings_path: Optional[str] = None
    """A GloVe text file (glove.6B.300d.txt, Appendix B); ``None`` trains the embeddings."""
    layers: int = 1
    """Layers of every encoder and of the decoder (Appendix B: one layer)."""
    heads: int = 2
    ffn_dim: int = 50
    """Feed-forward width (MoEL/CEM's ``filter`` 50; the paper does not say)."""
    dropout: float = 0.0
    """MoEL/CEM's encoder and decoder dropouts are 0 (the paper does not say)."""
    max_positions: int = 1024
    """E_P of eq. 4: 1024 positions."""
    max_knowledge_tokens: int = 100
    """Longest commonsense sequence (five tails of up to five relations), cut on the right."""
    # Table 2 ablations
    use_causes: bool = True
    """``wo-cause``: off, the cause encoder and COMET read the whole context instead of the causes."""
    use_mechanisms: bool = True
    """``wo-cm``: off, no mechanism heads, labels, L_cm nor ê_cm."""
    use_knowledge: bool = True
    """``wo-know``: off, no COMET, knowledge encoder nor refinement: Ĥ_C = H_C ⊕ ê_cm."""
    tiny_comet: bool = False
    """Point ``comet.imagine`` at a tiny random COMET-shaped model (offline runs; its tails are noise)."""
    cause_detector: dict[str, Any] = {}
    """Options of the RECCON cause detector (:class:`edg_imagine.cause_detector.CauseDetectorOptions`)."""
    mechanism_classifier: dict[str, Any] = {}
    """Options of the EPITOME classifiers (:class:`edg_imagine.mechanism_classifier.MechanismClassifierOptions`)."""
    decoder: str = "imagine.decoder"
    decoder_options: dict[str, Any] = {}


PAPER_LOSSES = [
    {"name": "nll", "weight": 1.0},  # λ1 L_gen, eq. 19
    {"name": "emotion", "weight": 1.0},  # λ2 L_emo, eq. 3
    {"name": "imagine.mechanisms", "weight": 1.0},  # λ3 L_cm, eq. 8
    {"name": "imagine.diversity", "weight": 1.5},  # λ4 L_div, eq. 22
]


def losses_without(*names: str) -> list[dict[str, Any]]:
    return [dict(spec) for spec in PAPER_LOSSES if spec["name"] not in names]


_SMALL_CLASSIFIER = {"model_name": None, "small_hidden": 32, "small_layers": 1, "small_heads": 2,
                     "small_vocab": 4000, "epochs": 1, "lr": 1e-3, "batch_size": 32, "max_tokens": 64,
                     "max_train_examples": 1500, "max_eval_examples": 300, "device": "cpu"}

TINY: dict[str, Any] = {
    "model": {"d_model": 32, "ffn_dim": 64, "max_knowledge_tokens": 40, "tiny_comet": True,
              "cause_detector": {"classifier": _SMALL_CLASSIFIER},
              "mechanism_classifier": {"classifier": _SMALL_CLASSIFIER}},
    "knowledge": {KNOWLEDGE_SOURCE: {"num_beams": 2, "num_return": 2, "max_length": 6, "batch_size": 128,
                                     "device": "cpu"}},
    "tokenizer": {"vocab_size": 3000, "max_context_tokens": 96, "max_target_tokens": 24},
    "train": {"batch_size": 8, "eval_batch_size": 16, "lr": 3e-3, "max_steps": 40, "eval_every": 20,
              "log_every": 10, "progress": False, "device": "cpu"},
    "generation": {"max_length": 12},
    "eval": {"batch_size": 16},
}

ABLATIONS: dict[str, dict[str, Any]] = {
    # without causes, COMET reads the whole context (its input C becomes S)
    "wo-cause": {"model": {"use_causes": False}, "knowledge": {KNOWLEDGE_SOURCE: {"head": "context", "column": None}}},
    "wo-cm": {"model": {"use_mechanisms": False}, "losses": losses_without("imagine.mechanisms")},
    "wo-know": {"model": {"use_knowledge": False}},
    "wo-div": {"losses": losses_without("imagine.diversity")},
}


class ImagineSystem(System):
    Options = ImagineOptions
    description = "IMAGINE: emotion causes (RECCON), COMET knowledge in four groups, communication mechanisms (EPITOME)"
    predicts_emotion = True
    length_columns = ("labels", "context_ids")
    presets = {"tiny": TINY, **ABLATIONS, **{f"tiny-{k}": deep_merge(TINY, v) for k, v in ABLATIONS.items()}}

    def __init__(self, config, options, plugins) -> None:
        super().__init__(config, options, plugins)
        from edg_imagine.cause_detector import CauseDetectorOptions
        from edg_imagine.mechanism_classifier import MechanismClassifierOptions

        if config.data.shape != "turn":
            raise ConfigError("data.shape: IMAGINE trains on listener turns (a context and its response); "
                              "set data.shape: turn")
        names = [spec.name for spec in config.losses]
        if "imagine.mechanisms" in names and not options.use_mechanisms:
            raise ConfigError("loss 'imagine.mechanisms' needs model.use_mechanisms: true (use the preset wo-cm)")
        self.detector_options = validate(CauseDetectorOptions, dict(options.cause_detector), "model.cause_detector.")
        self.mechanism_options = validate(MechanismClassifierOptions, dict(options.mechanism_classifier),
                                          "model.mechanism_classifier.")

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "data": {"shape": "turn"},
            "tokenizer": {"kind": "word", "vocab_size": 30000, "max_target_tokens": 64},
            "losses": [dict(spec) for spec in PAPER_LOSSES],
            # COMET reads the causes C (§3.2.2), the column ``imagine.causes`` writes
            "knowledge": {KNOWLEDGE_SOURCE: {"head": "column", "column": CAUSE_FIELD}},
            # Appendix B: Adam, lr 1e-4, early stopping on the validation loss (the schedule and
            # batch size are not given: a constant rate and CEM's batch of 16)
            "train": {"optimizer": "adam", "lr": 1e-4, "betas": [0.9, 0.98], "eps": 1e-9, "schedule": "constant",
                      "warmup_steps": 0, "batch_size": 16, "patience": 5},
            "generation": {"strategy": "greedy", "max_length": 30},  # at most 30 decoding steps
        }

    def special_tokens(self) -> list[str]:
        return [CLS]

    # -- fit stage ----------------------------------------------------------------------------
    def fitted_components(self, splits: dict[str, Any], stage: str) -> list[Any]:
        if stage != "before_knowledge":
            return []
        from edg_imagine.cause_detector import CauseDetector, reccon_digests
        from edg_imagine.mechanism_classifier import MechanismClassifier, epitome_digest

        specs = []
        if self.options.use_causes:
            detector = CauseDetector(self.detector_options)
            # fitted before knowledge, so that a COMET reading the causes could follow it
            spec = FitSpec(CAUSE_DETECTOR, detector, {"reccon": reccon_digests(self.detector_options.reccon_dir)},
                           stage="before_knowledge")
            self._cause_fit_dir = fitted_directory(self.config, spec)
            specs.append(spec)
        if self.options.use_mechanisms:
            for m in MECHANISMS:
                classifier = MechanismClassifier(self.mechanism_options, mechanism=m)
                specs.append(FitSpec(mechanism_component(m), classifier,
                                     {"epitome": epitome_digest(self.mechanism_options.epitome_dir, m)},
                                     stage="before_knowledge"))
        return specs

    # -- knowledge ----------------------------------------------------------------------------
    def knowledge_sources(self) -> dict[str, dict[str, Any]]:
        sources = {name: dict(opts) for name, opts in self.config.knowledge.items()}
        if not self.options.use_knowledge:
            sources.pop(KNOWLEDGE_SOURCE, None)
            return sources
        if KNOWLEDGE_SOURCE not in sources:
            raise ConfigError(f"knowledge: IMAGINE reads the '{KNOWLEDGE_SOURCE}' source; configure it "
                              f"(knowledge.\"{KNOWLEDGE_SOURCE}\") or use the preset wo-know")
        if self.options.tiny_comet:
            sources[KNOWLEDGE_SOURCE]["model_name_or_path"] = str(tiny_comet_directory())
        comet = sources[KNOWLEDGE_SOURCE]
        if comet.get("head") == "column" and comet.get("column") == CAUSE_FIELD:
            if not self.options.use_causes:
                raise ConfigError(f"knowledge.\"{KNOWLEDGE_SOURCE}\".head: column reads the causes, but "
                                  f"model.use_causes is false; set knowledge.\"{KNOWLEDGE_SOURCE}\".head=context "
                                  f"and column=null (the preset wo-cause does)")
            # comet.imagine reads the column imagine.causes writes: the core annotates that first
            fit_dir = getattr(self, "_cause_fit_dir", None)
            sources[CAUSE_SOURCE] = {**sources.get(CAUSE_SOURCE, {}),
                                     "detector": self.detector_options.model_dump(mode="json"),
                                     "fitted_dir": str(fit_dir) if fit_dir is not None and CAUSE_DETECTOR in self.fitted
                                     else None}
        return sources

    # -- statistics ---------------------------------------------------------------------------
    def prepare(self, splits: dict[str, Any]) -> dict[str, Any]:
        """FACE weights (eq. 20–21, mean 1) from the token counts of the training responses."""
        import torch

        from edg_imagine.diversity_loss import STATISTIC, face_weights

        counts = torch.zeros(len(self.tokenizer), dtype=torch.float64)
        targets = list(splits["train"]["target"])
        for start in range(0, len(targets), 2048):
            for ids in self.tokenizer(targets[start:start + 2048], add_special_tokens=False)["input_ids"]:
                counts += torch.bincount(torch.tensor(ids, dtype=torch.long), minlength=len(counts)).double()
        self.statistics[STATISTIC] = face_weights(counts).tolist()
        return splits

    # -- encoding -----------------------------------------------------------------------------
    def encoding_fingerprint(self) -> dict[str, Any]:
        o = self.options
        fp = {**super().encoding_fingerprint(), "use_causes": o.use_causes, "use_mechanisms": o.use_mechanisms,
              "use_knowledge": o.use_knowledge, "max_knowledge_tokens": o.max_knowledge_tokens, "version": 1}
        for name in [CAUSE_DETECTOR if o.use_causes else None,
                     *(mechanism_component(m) for m in MECHANISMS if o.use_mechanisms)]:
            if name is not None:
                fitted = self.fitted.get(name)
                fp[name] = fitted.fingerprint() if fitted is not None else None
        return fp

    def _fitted(self, name: str) -> Any:
        fitted = self.fitted.get(name)
        if fitted is None:
            raise ConfigError(f"IMAGINE needs the fitted component '{name}' (the fit stage did not run)")
        return fitted

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        o = self.options
        tok = self.tokenizer
        cls_id, bos, eos = (tok.convert_tokens_to_ids(t) for t in (CLS, BOS, EOS))
        contexts, roles = [list(c) for c in batch["context"]], [list(r) for r in batch["roles"]]
        n = len(contexts)
        flat = [u for c in contexts for u in c]
        pieces = tok(flat, add_special_tokens=False)["input_ids"] if flat else []
        per_context, k = [], 0
        for c in contexts:
            per_context.append(pieces[k:k + len(c)])
            k += len(c)
        if o.use_causes:
            causes = self._fitted(CAUSE_DETECTOR).causes(contexts, roles, list(batch["emotion"]))
        else:  # wo-cause: the whole context takes the causes' place
            causes = [list(range(len(c))) for c in contexts]
        limit = self.config.tokenizer.max_context_tokens
        out: dict[str, list] = {"context_ids": [], "context_role_ids": [], "cause_ids": [], "cause_role_ids": [],
                                "cause_index": [], "decoder_input_ids": [], "labels": []}
        for utterances, who, chosen in zip(per_context, roles, causes):
            ids, role_ids = cls_sequence(utterances, [ROLE_IDS[r] for r in who], cls_id, limit)
            out["context_ids"].append(ids)
            out["context_role_ids"].append(role_ids)
            ids, role_ids = cls_sequence([utterances[i] for i in chosen], [ROLE_IDS[who[i]] for i in chosen],
                                         cls_id, limit)
            out["cause_ids"].append(ids)
            out["cause_role_ids"].append(role_ids)
            out["cause_index"].append(list(chosen))
        targets = tok(list(batch["target"]), add_special_tokens=False)["input_ids"]
        t_limit = self.config.tokenizer.max_target_tokens
        for ids in targets:
            ids = ids[: t_limit - 1]
            out["decoder_input_ids"].append([bos, *ids])
            out["labels"].append([*ids, eos])
        if o.use_mechanisms:
            seekers = [c[-1] if c else "" for c in contexts]
            labels = [self._fitted(mechanism_component(m)).label(seekers, list(batch["target"])) for m in MECHANISMS]
            out["mechanism_labels"] = [list(row) for row in zip(*labels)] if n else []
        if o.use_knowledge:
            if KNOWLEDGE_FIELD not in batch:
                raise ConfigError(f"IMAGINE needs the '{KNOWLEDGE_SOURCE}' knowledge column '{KNOWLEDGE_FIELD}' "
                                  f"(knowledge annotation did not run)")
            for group in GROUPS:
                out[f"knowledge_{group.lower()}_ids"] = self._knowledge(batch[KNOWLEDGE_FIELD], group, cls_id)
        return out

    def _knowledge(self, column: list[dict[str, Any]], group: str, cls_id: int) -> list[list[int]]:
        """S_group of each sample: its relations' tails concatenated (eq. 10's input), [CLS]
        first except for Affect (§3.2.2), cut to ``max_knowledge_tokens``."""
        tok = self.tokenizer
        texts = []
        for knowledge in column:
            relations = knowledge.get(group)
            if relations is None:
                raise ConfigError(f"knowledge.\"{KNOWLEDGE_SOURCE}\".groups: IMAGINE needs the group '{group}' "
                                  f"(groups present: {sorted(knowledge)})")
            texts.append(" ".join(tail for tails in relations.values() for tail in tails))
        encoded = tok(texts, add_special_tokens=False)["input_ids"] if texts else []
        limit = self.options.max_knowledge_tokens
        if group == "Affect":
            none = tok(EMPTY_AFFECT, add_special_tokens=False)["input_ids"]
            return [ids[:limit] or none for ids in encoded]
        return [[cls_id, *ids[: limit - 1]] for ids in encoded]

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        pad_id = self.tokenizer.pad_token_id
        batch: dict[str, Any] = {}
        for name in ("context", "cause"):
            ids = pad([s[f"{name}_ids"] for s in samples], pad_id)
            batch[f"{name}_ids"] = ids
            batch[f"{name}_mask"] = ids.ne(pad_id)
            batch[f"{name}_role_ids"] = pad([s[f"{name}_role_ids"] for s in samples], 0)
        for group in GROUPS:
            key = f"knowledge_{group.lower()}_ids"
            if key in samples[0]:
                ids = pad([s[key] for s in samples], pad_id)
                batch[key] = ids
                batch[f"knowledge_{group.lower()}_mask"] = ids.ne(pad_id)
        if "mechanism_labels" in samples[0]:
            batch["mechanism_labels"] = torch.tensor([s["mechanism_labels"] for s in samples], dtype=torch.long)
        batch["decoder_input_ids"] = pad([s["decoder_input_ids"] for s in samples], pad_id)
        batch["labels"] = pad([s["labels"] for s in samples], -100)
        batch["emotion_id"] = torch.tensor([s["emotion_id"] for s in samples], dtype=torch.long)
        return batch

    # -- model --------------------------------------------------------------------------------
    def build_model(self):
        from edg_imagine.cause_encoder import CauseEncoder
        from edg_imagine.communication_heads import CommunicationHeads
        from edg_imagine.emotion_perception import EmotionPerception
        from edg_imagine.knowledge_encoder import KnowledgeEncoder
        from edg_imagine.knowledge_refinement import KnowledgeRefinement
        from edg_imagine.model import ImagineModel
        from edg_imagine.sequence_encoder import SequenceEncoder

        o = self.options
        tok = self.tokenizer
        d = o.d_model
        embedding = build_dialogue_embedding(tok, d_model=d, max_positions=o.max_positions, dropout=o.dropout,
                                             embeddings_path=o.embeddings_path)

        def encoder(input_dim: Optional[int] = None) -> SequenceEncoder:
            return SequenceEncoder(d, layers=o.layers, heads=o.heads, ffn_dim=o.ffn_dim, dropout=o.dropout,
                                   input_dim=input_dim)

        knowledge = refinement = None
        if o.use_knowledge:
            knowledge = KnowledgeEncoder(embedding, encoder())
            refinement = KnowledgeRefinement(d, encoder(2 * d))
        # Ĥ_C (eq. 17): three refined groups (or H_C without knowledge), plus ê_cm with the mechanisms
        memory_dim = d * ((3 if o.use_knowledge else 1) + (1 if o.use_mechanisms else 0))
        decoder_options = {"layers": o.layers, "heads": o.heads, "ffn_dim": o.ffn_dim, "dropout": o.dropout,
                           **o.decoder_options}
        decoder = self.component("decoder", o.decoder, decoder_options, key="model.decoder_options", d_model=d,
                                 memory_dim=memory_dim, embedding=embedding, bos_id=tok.convert_tokens_to_ids(BOS),
                                 eos_id=tok.convert_tokens_to_ids(EOS), pad_id=tok.pad_token_id)
        return ImagineModel(embedding=embedding, emotion=EmotionPerception(encoder(), d),
                            causes=CauseEncoder(embedding, encoder()),
                            mechanisms=CommunicationHeads(d) if o.use_mechanisms else None,
                            knowledge=knowledge, refinement=refinement, decoder=decoder, d_model=d)


def fitted_directory(config: Any, spec: FitSpec) -> Path:
    """Where the core's fit stage keeps ``spec``'s result (``<cache>/fitted/<key>``)."""
    from edg.data import default_cache_dir
    from edg.fitting import cache_key

    root = Path(config.data.cache_dir).expanduser() if config.data.cache_dir else default_cache_dir()
    return root / "fitted" / cache_key(spec)


def cls_sequence(utterances: list[list[int]], roles: list[int], cls_id: int, limit: int) -> tuple[list[int], list[int]]:
    """``[CLS] u_0 u_1 ...`` with each token's dialogue state (the [CLS] takes the speaker's);
    a sequence over ``limit`` tokens loses its oldest tokens (the [CLS] stays)."""
    ids = [t for u in utterances for t in u]
    role_ids = [r for u, r in zip(utterances, roles) for _ in u]
    keep = max(limit - 1, 0)
    if len(ids) > keep:
        ids, role_ids = ids[len(ids) - keep:], role_ids[len(role_ids) - keep:]
    return [cls_id, *ids], [ROLE_IDS["speaker"], *role_ids]


TINY_COMET_VERSION = "v1"
_TINY_COMET_WORDS = """happy sad angry proud scared lonely excited tired nervous calm afraid glad upset
friend family dog house car school work job money party trip exam test gift baby doctor
to be have get make go feel know want need find give help study pass relax celebrate cry smile
good bad new hard easy fun nice great safe careful prepared successful
a the of in for with and not very""".split()


def tiny_comet_directory() -> Path:
    """A tiny random COMET-shaped BART (edg-comet's test model) built once under
    ``$EDG_CACHE/imagine/tiny-comet-v1``, so its knowledge-cache fingerprint stays stable."""
    from edg_comet.testing import build_tiny_comet

    root = os.environ.get("EDG_CACHE")
    base = (Path(root).expanduser() if root else Path.home() / ".cache" / "edg") / "imagine"
    directory = base / f"tiny-comet-{TINY_COMET_VERSION}"
    if (directory / "DONE").is_file():
        return directory
    tmp = directory.with_name(f"{directory.name}.tmp{os.getpid()}")
    build_tiny_comet(tmp, [" ".join(_TINY_COMET_WORDS)], d_model=16, vocab_size=200, seed=0)
    (tmp / "DONE").write_text("ok\n")
    try:
        os.replace(tmp, directory)
    except OSError:  # a concurrent run finished first: keep its copy
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return directory
