"""System ``ctsm``: CTSM, Combining Trait and State emotions for empathetic response
Model (Wang et al., LREC-COLING 2024).

Components by registered name: knowledge source ``comet.social`` (edg-comet), trait module
``vad.trait`` (edg-vad), state module ``ctsm.state``, decoder ``ctsm.pointer_generator``,
loss terms ``ctsm.emotion`` + ``ctsm.guidance`` (L_e, eq. 19), ``nll`` (L_g, eq. 21),
``ctsm.cross_contrastive`` (L_ccl, eq. 24), and CEM's parts from edg-baselines: the knowledge
refinement ``cem.refinement`` and the diversity loss ``cem.diversity`` (L_div).
See ``docs/plugins/ctsm.md`` for the equation-to-code map.
"""

from __future__ import annotations

from typing import Any, Optional

from edg.baseline.collate import encode_dialogue, pad, pad_dialogue
from edg.config import StrictModel
from edg.errors import ConfigError
from edg.interfaces.system import System
from edg.tokenization import BOS, CLS, EOS

COGNITIVE_RELATIONS = ["xIntent", "xNeed", "xWant", "xEffect"]
AFFECTIVE_RELATION = "xReact"
#: peak learning rate of CEM's NoamOpt(d_model=300, factor=1, warmup=8000)
NOAM_PEAK_LR = round((300 * 8000) ** -0.5, 8)


class CtsmOptions(StrictModel):
    # embeddings and Transformer sizes (CEM's defaults: 300-d, 1 layer, 2 heads, FFN 50)
    d_model: int = 300
    layers: int = 1
    heads: int = 2
    ffn_dim: int = 50
    dropout: float = 0.1
    max_positions: int = 1024
    embeddings_path: Optional[str] = None
    """A GloVe text file (glove.6B.300d.txt, §4.2); ``None`` trains the embeddings."""
    # knowledge (§3.3)
    knowledge_source: Optional[str] = "comet.social"
    """Registered knowledge source; its options go in the config's ``knowledge.<name>``.
    ``None``: no knowledge, every relation sequence is just [CLS] (offline runs)."""
    knowledge_field: Optional[str] = None
    """Sample column of the knowledge (default: the source name with ``.`` -> ``_``)."""
    cognitive_relations: list[str] = list(COGNITIVE_RELATIONS)
    affective_relation: str = AFFECTIVE_RELATION
    max_knowledge_tokens: int = 40
    refinement_module: str = "cem.refinement"
    """CEM's knowledge refinement (edg-baselines), one per context (teacher, student)."""
    refinement_options: dict[str, Any] = {}
    # emotion encoding (§3.4)
    d_cs: int = 10
    """Width of the compressed semantics ``H̃_C`` (§4.2: 10), for both emotion modules."""
    vad_lexicon: Optional[str] = None
    """NRC-VAD lexicon file, handed to the trait module (edg-vad says where to get it), or
    ``handmade`` for the small hand-made lexicon edg-vad ships (not NRC's values; the tiny
    preset's, so that it runs offline)."""
    trait_module: str = "vad.trait"
    trait_options: dict[str, Any] = {}
    state_module: str = "ctsm.state"
    state_options: dict[str, Any] = {}
    # ablation switches (Table 3)
    use_trait: bool = True
    """TEE: trait emotion embedding and encoder."""
    use_state: bool = True
    """SEE: state emotion embedding and encoder."""
    use_guidance: bool = True
    """EGM: the teacher (``H_C^tchr``, its eq. 12–14 head, L_tchr as its loss and L_stu). Off:
    the student head alone, trained on the gold label."""
    use_ccl: bool = True
    """CCL: response encoder and projection heads of the cross-contrastive loss."""
    # heads
    guidance_hidden: Optional[int] = None
    """Hidden width of the guidance heads (eq. 12–13); ``None``: ``d_model``."""
    guidance_dropout: float = 0.0
    ccl_dim: Optional[int] = None
    """Width of the cross-contrastive projections; ``None``: ``d_model``."""
    decoder: str = "ctsm.pointer_generator"
    decoder_options: dict[str, Any] = {}


EQ25_LOSSES = [
    {"name": "ctsm.emotion", "weight": 1.0},  # γ1 · L_tchr (eq. 15)
    {"name": "ctsm.guidance", "weight": 1.0},  # γ1 · L_stu (eq. 18); L_e = L_tchr + L_stu (eq. 19)
    {"name": "nll", "weight": 1.0},  # γ2 · L_g (eq. 21)
    {"name": "ctsm.cross_contrastive", "weight": 1.0, "options": {"temperature": 0.07}},  # γ3 · L_ccl
    {"name": "cem.diversity", "weight": 1.5},  # γ4 · L_div (CEM's, from edg-baselines)
]


def _losses_without(*names: str) -> list[dict[str, Any]]:
    return [spec for spec in EQ25_LOSSES if spec["name"] not in names]


TINY = {
    "model": {
        "d_model": 32, "layers": 1, "heads": 2, "ffn_dim": 64, "d_cs": 10, "max_knowledge_tokens": 16,
        "knowledge_source": None, "vad_lexicon": "handmade",
        "decoder_options": {"ffn_dim": 64},
    },
    "tokenizer": {"vocab_size": 3000, "max_context_tokens": 96, "max_target_tokens": 24},
    "train": {"batch_size": 8, "eval_batch_size": 16, "lr": 3e-3, "warmup_steps": 10, "eval_every": 20,
              "log_every": 5, "epochs": 1, "progress": False, "device": "cpu"},
    "generation": {"max_length": 12},
    "eval": {"batch_size": 16},
}


class CtsmSystem(System):
    Options = CtsmOptions
    description = "CTSM: trait + state emotions, emotion guidance, cross-contrastive decoder (Wang et al. 2024)"
    predicts_emotion = True
    presets = {
        "tiny": TINY,
        "wo-tee": {"model": {"use_trait": False}},
        "wo-see": {"model": {"use_state": False}},
        "wo-egm": {"model": {"use_guidance": False}, "losses": _losses_without("ctsm.guidance")},
        "wo-ccl": {"model": {"use_ccl": False}, "losses": _losses_without("ctsm.cross_contrastive")},
        "wo-egm-ccl": {"model": {"use_guidance": False, "use_ccl": False},
                       "losses": _losses_without("ctsm.guidance", "ctsm.cross_contrastive")},
    }

    def __init__(self, config, options, plugins) -> None:
        super().__init__(config, options, plugins)
        self.idf: dict[str, float] = {}
        self.train_frequencies: list[int] = []
        self.emotion_counts: list[int] = []
        self._check_losses()

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "tokenizer": {"kind": "word", "vocab_size": 30000},
            "knowledge": {"comet.social": {}},
            "losses": [dict(spec) for spec in EQ25_LOSSES],
            # CEM's NoamOpt(300, 1, 8000, Adam(0.9, 0.98, 1e-9)) peaks at (300 · 8000)^-0.5
            # the authors' main.py keeps the checkpoint of the lowest validation perplexity
            "train": {"optimizer": "adam", "lr": NOAM_PEAK_LR, "schedule": "noam", "warmup_steps": 8000,
                      "betas": [0.9, 0.98], "eps": 1e-9, "batch_size": 16, "early_stopping_on": "token_nll"},
            "generation": {"strategy": "greedy", "max_length": 30},
        }

    def _check_losses(self) -> None:
        o = self.options
        names = [spec.name for spec in self.config.losses]
        if "ctsm.guidance" in names and not o.use_guidance:
            raise ConfigError("loss 'ctsm.guidance' needs model.use_guidance: true (use the preset wo-egm)")
        if "ctsm.cross_contrastive" in names and not o.use_ccl:
            raise ConfigError("loss 'ctsm.cross_contrastive' needs model.use_ccl: true (use the preset wo-ccl)")
        if o.use_ccl and not (o.use_trait or o.use_state) and "ctsm.cross_contrastive" in names:
            raise ConfigError("the cross-contrastive pairs need H_ts: enable model.use_trait or model.use_state")
        fixed = {"affective", "cognitive_relations"} & set(o.refinement_options)
        if fixed:
            raise ConfigError(f"model.refinement_options.{sorted(fixed)[0]} is set by CTSM (from "
                              f"model.cognitive_relations; the affective branch is always on)")

    # -- data --------------------------------------------------------------------------
    def knowledge_sources(self) -> dict[str, dict[str, Any]]:
        name = self.options.knowledge_source
        if name is None:
            return {}
        return {name: dict(self.config.knowledge.get(name, {}))}

    @property
    def relations(self) -> list[str]:
        return [*self.options.cognitive_relations, self.options.affective_relation]

    @property
    def knowledge_field(self) -> Optional[str]:
        o = self.options
        if o.knowledge_source is None:
            return None
        return o.knowledge_field or o.knowledge_source.replace(".", "_")

    def prepare(self, splits: dict[str, Any]) -> dict[str, Any]:
        """IDF (one document per training conversation), response token frequencies and
        emotion label counts (the guidance heads' initial prior), from the training split
        only; deterministic."""
        from edg.data.statistics import idf

        train = splits["train"]
        tok = self.tokenizer
        vocab = tok.convert_ids_to_tokens(list(range(len(tok))))
        # one document per conversation: the context of its latest sample plus that target
        latest: dict[str, tuple[int, int]] = {}
        for i, (conv, turn) in enumerate(zip(train["conv_id"], train["turn"])):
            if conv not in latest or turn > latest[conv][0]:
                latest[conv] = (turn, i)
        rows = sorted(i for _, i in latest.values())
        contexts, targets = train["context"], train["target"]
        docs = [" ".join([*contexts[i], targets[i]]) for i in rows]
        encoded = tok(docs, add_special_tokens=False)["input_ids"] if docs else []
        token_docs = [[vocab[t] for t in ids] for ids in encoded]
        self.idf = idf(token_docs, lambda doc: doc)
        counts = [0] * len(tok)
        eos = tok.convert_tokens_to_ids(EOS)
        for ids in (tok(list(targets), add_special_tokens=False)["input_ids"] if len(targets) else []):
            for t in ids:
                if t != eos:
                    counts[t] += 1
        self.train_frequencies = counts
        self.statistics["target_token_frequencies"] = counts  # cem.diversity (frequencies: train)
        emotions = [0] * 32
        for e in train["emotion_id"]:
            emotions[e] += 1
        self.emotion_counts = emotions
        return splits

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        """Once per split: ``C = [CLS] ⊕ u_1 ⊕ ... ⊕ u_n`` (§3.3), the target, and the
        knowledge sequences of every relation (:meth:`knowledge_sequences`)."""
        tok, cfg = self.tokenizer, self.config.tokenizer
        out = encode_dialogue(batch, tok, max_context_tokens=max(cfg.max_context_tokens - 1, 1),
                              max_target_tokens=cfg.max_target_tokens)
        cls_id = tok.convert_tokens_to_ids(CLS)
        out["input_ids"] = [[cls_id, *ids] for ids in out["input_ids"]]
        out["role_ids"] = [[0, *ids] for ids in out["role_ids"]]
        rows = [{k: batch[k][i] for k in batch} for i in range(len(batch["target"]))]
        out["knowledge_ids"] = self.knowledge_sequences(rows)
        return out

    def encoding_fingerprint(self) -> dict[str, Any]:
        return {**super().encoding_fingerprint(), "relations": self.relations, "field": self.knowledge_field,
                "max_knowledge_tokens": self.options.max_knowledge_tokens}

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        if samples and "knowledge_ids" not in samples[0]:  # raw samples (chat, generate): encode them now
            columns = {k: [s[k] for s in samples] for k in samples[0]}
            encoded = self.encode(columns)
            samples = [{**s, **{k: v[i] for k, v in encoded.items()}} for i, s in enumerate(samples)]
        tok = self.tokenizer
        batch = pad_dialogue(samples, tok.pad_token_id)
        relations = len(self.relations)
        flat = [seq for s in samples for seq in s["knowledge_ids"]]
        ids = pad(flat, tok.pad_token_id).view(len(samples), relations, -1)
        batch["knowledge_ids"], batch["knowledge_mask"] = ids, ids.ne(tok.pad_token_id)
        return batch

    def knowledge_sequences(self, samples: list[dict[str, Any]]) -> list[list[list[int]]]:
        """Per sample, the token ids of each relation's tails (cognitive relations first, the
        affective one last), in CEM's format, which the registered refinement module defines
        (``cem.refinement``: tails concatenated, "to", "none" and out-of-vocabulary words
        dropped, cognitive sequences start with [CLS], the affective one is its words only or
        [CLS] alone when it has none)."""
        field = self.knowledge_field
        knowledge = []
        for sample in samples:
            value = {} if field is None else sample.get(field)
            if value is None:
                raise ConfigError(f"sample {sample.get('id')} has no knowledge column '{field}' "
                                  f"(set model.knowledge_field or model.knowledge_source)")
            knowledge.append(value)
        refinement = self.plugins.get("emotion_module", self.options.refinement_module)
        return refinement.knowledge_sequences(self.tokenizer, knowledge, self.relations, affective_last=True,
                                              max_tokens=self.options.max_knowledge_tokens)

    # -- model -------------------------------------------------------------------------
    def build_embedding(self):
        from edg.api import build_dialogue_embedding

        o = self.options
        return build_dialogue_embedding(self.tokenizer, d_model=o.d_model, max_positions=o.max_positions,
                                        dropout=o.dropout, embeddings_path=o.embeddings_path)

    def _vocab(self) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))

    def build_trait_module(self):
        o = self.options
        options = dict(o.trait_options)
        from edg_ctsm.trait import trait_options

        options = trait_options(self.plugins.get("emotion_module", o.trait_module), options,
                                lexicon=o.vad_lexicon, d_cs=o.d_cs)
        return self.component("emotion_module", o.trait_module, options, key="model.trait_options",
                              d_model=o.d_model, num_emotions=32, vocab=self._vocab(), idf=self.idf)

    def build_state_module(self):
        o = self.options
        options = {"d_cs": o.d_cs, **o.state_options}
        return self.component("emotion_module", o.state_module, options, key="model.state_options",
                              d_model=o.d_model, num_emotions=32, vocab=self._vocab(), idf=self.idf)

    def build_model(self):
        import torch

        from edg.data import EMOTIONS
        from edg_ctsm.context_encoder import InferenceEnrichedContextEncoder
        from edg_ctsm.model import CtsmModel
        from edg_ctsm.trait import probe_trait

        o = self.options
        tok = self.tokenizer
        embedding = self.build_embedding()
        kw = dict(layers=o.layers, heads=o.heads, ffn_dim=o.ffn_dim, dropout=o.dropout, max_len=o.max_positions)
        contexts = ("teacher", "student") if o.use_guidance else ("student",)
        refinement_options = {"layers": o.layers, "heads": o.heads, "ffn_dim": o.ffn_dim, "dropout": o.dropout,
                              "max_positions": o.max_positions, **o.refinement_options,
                              "affective": True, "cognitive_relations": len(o.cognitive_relations)}

        def make_refinement():  # CEM's refinement without CEM's classifier: CTSM's heads predict emotion
            return self.component("emotion_module", o.refinement_module, refinement_options,
                                  key="model.refinement_options", d_model=o.d_model, num_emotions=0)

        context_encoder = InferenceEnrichedContextEncoder(embedding, o.d_model, num_cognitive=len(o.cognitive_relations),
                                                          contexts=contexts, make_refinement=make_refinement, **kw)
        decoder_options = {"layers": o.layers, "heads": o.heads, "ffn_dim": o.ffn_dim, "dropout": o.dropout,
                           **o.decoder_options}
        decoder = self.component("decoder", o.decoder, decoder_options, key="model.decoder_options",
                                 d_model=o.d_model, embedding=embedding, bos_id=tok.convert_tokens_to_ids(BOS),
                                 eos_id=tok.convert_tokens_to_ids(EOS), pad_id=tok.pad_token_id)
        # the trait module gives V_t/H_t and the tokens' VAD values (for the intensities of
        # eq. 11 / 17, which every variant pools with); without TEE it is built only to read
        # the VAD values, then dropped
        trait = self.build_trait_module()
        probe = probe_trait(trait, len(tok), o.d_model)
        intensity = probe.intensity
        trait_dims = (probe.embedding_dim, probe.hidden_dim)
        if not o.use_trait:
            trait = None
        state = self.build_state_module() if o.use_state else None
        state_dims = (state.output_dim, state.output_dim) if state is not None else (0, 0)
        ids = [tok.convert_tokens_to_ids(w) for w in EMOTIONS]
        emotion_word_ids = torch.tensor([i if i != tok.unk_token_id else -1 for i in ids], dtype=torch.long)
        ccl = None
        if o.use_ccl:
            ccl = {"dim": o.ccl_dim or o.d_model,
                   "encoder": {k: kw[k] for k in ("layers", "heads", "ffn_dim", "dropout", "max_len")}}
        return CtsmModel(context_encoder=context_encoder, decoder=decoder, d_model=o.d_model, num_emotions=32,
                         trait=trait, trait_dims=trait_dims, state=state, state_dims=state_dims,
                         emotion_word_ids=emotion_word_ids, intensity=intensity, use_guidance=o.use_guidance,
                         guidance_hidden=o.guidance_hidden or o.d_model, guidance_dropout=o.guidance_dropout,
                         ccl=ccl,
                         emotion_counts=torch.tensor(self.emotion_counts) if self.emotion_counts else None)
