"""System ``cem``: CEM, Commonsense-aware Empathetic response generation (Sabour, Zheng and
Huang, AAAI 2022).

Components by registered name: the knowledge source ``comet.social`` (edg-comet: COMET on the
last utterance, xIntent/xNeed/xWant/xEffect/xReact), the emotion module ``cem.refinement``
(cognitive and affective refinement, knowledge-acquisition MLP, emotion classifier on the
affective branch), the core's ``transformer`` decoder and the loss terms ``nll``, ``emotion``
and ``cem.diversity`` (L_div, weight 1.5). See ``docs/plugins/cem.md``.

Defaults are the authors' code (``Sahandfer/CEM``: ``src/utils/config.py`` defaults, which
``python main.py --model cem`` uses): 300-d embeddings and hidden states, 1 layer (``--hop``),
2 heads, feed-forward 50 (``--filter``), no dropout, batch 16, Adam(0.9, 0.98, 1e-9) under
``NoamOpt(300, 1, 8000)`` (``--noam`` is on, so ``--lr 1e-4`` is never used), greedy decoding
of up to 50 tokens at test time (``main.py``).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from edg.api import BOS, EOS, pad
from edg.config import StrictModel
from edg.data import EMOTIONS
from edg.errors import ConfigError
from edg_baselines.cls_context_system import ClsContextSystem

COGNITIVE_RELATIONS = ["xIntent", "xNeed", "xWant", "xEffect"]
AFFECTIVE_RELATION = "xReact"
#: peak of CEM's NoamOpt(d_model=300, factor=1, warmup=8000)
NOAM_PEAK_LR = round((300 * 8000) ** -0.5, 8)


class CemOptions(StrictModel):
    d_model: int = 300
    """``--emb_dim 300 --hidden_dim 300``."""
    layers: int = 1
    """Layers of every encoder and of the decoder (``--hop 1``)."""
    heads: int = 2
    """``--heads 2``."""
    ffn_dim: int = 50
    """Feed-forward width (``--filter 50``)."""
    attention_dim: Optional[int] = 40
    """Width every attention projects queries, keys and values to (``--depth``, default 40:
    ``total_key_depth``/``total_value_depth`` of all five encoders, ``make_encoder``, and of the
    decoder); ``None``: ``d_model``, as torch's attention."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """Feed-forward of every encoder and decoder layer: ``linear`` (the core's); ``conv``: the
    authors' two convolutions of kernel 3 with a ReLU after each
    (:mod:`edg.baseline.conv_feed_forward`)."""
    dropout: float = 0.0
    """CEM's encoders and decoder are built with every dropout at its default 0.0."""
    max_positions: int = 1024
    embeddings_path: Optional[str] = None
    """A GloVe text file (glove.6B.300d.txt, ``--pretrain_emb``); ``None`` trains embeddings."""
    # knowledge
    knowledge_source: Optional[str] = "comet.social"
    """Registered knowledge source; its options go in the config's ``knowledge.<name>``.
    ``None``: no knowledge, every relation sequence is just [CLS] (offline runs)."""
    knowledge_field: Optional[str] = None
    """Sample column of the knowledge (default: the source name with ``.`` -> ``_``)."""
    cognitive_relations: list[str] = list(COGNITIVE_RELATIONS)
    affective_relation: str = AFFECTIVE_RELATION
    max_knowledge_tokens: int = 40
    """Per relation sequence (CEM does not cut them; 5 beams of COMET tails rarely exceed 30)."""
    # ablation switches (the paper's w/o Aff, w/o Cog; w/o Div is the loss list)
    use_affective: bool = True
    """The affective branch: xReact encoder and refinement (``--woEMO`` off)."""
    use_cognitive: bool = True
    """The cognitive branch: cognitive encoder, refinement and MLP (``--woCOG`` off)."""
    refinement_module: str = "cem.refinement"
    refinement_options: dict[str, Any] = {}
    decoder: str = "transformer"
    decoder_options: dict[str, Any] = {}
    xavier_init: bool = True
    """The authors' ``make_model``: every weight matrix except the embeddings re-drawn with
    ``xavier_uniform_`` once the model is built (false: PyTorch's default initialisation)."""


TINY: dict[str, Any] = {
    "model": {"d_model": 32, "layers": 1, "heads": 2, "ffn_dim": 64, "attention_dim": 16, "max_knowledge_tokens": 16,
              "knowledge_source": None},
    "tokenizer": {"vocab_size": 2000, "max_context_tokens": 96, "max_target_tokens": 24},
    "train": {"batch_size": 8, "eval_batch_size": 16, "max_steps": 40, "eval_every": 20, "log_every": 10,
              "warmup_steps": 10, "lr": 1e-3, "schedule": "constant", "progress": False,
              "early_stopping_after": 0},
    "eval": {"batch_size": 16},
    "generation": {"max_length": 12},
}

CEM_LOSSES = [
    # ctx_loss: criterion_ppl = NLLLoss(ignore_index=PAD), a per-token mean without smoothing (the
    # LabelSmoothing criterion is built but unused): the mean, not the MoEL-family sum
    {"name": "nll", "weight": 1.0},
    {"name": "emotion", "weight": 1.0},  # emo_loss: cross-entropy of the affective branch's logits
    {"name": "cem.diversity", "weight": 1.5},  # 1.5 · div_loss
]


class CemSystem(ClsContextSystem):
    Options = CemOptions
    description = "CEM: COMET inferences, cognitive + affective refinement, diversity loss (Sabour et al. 2022)"
    predicts_emotion = True
    presets = {
        "tiny": TINY,
        # the paper's ablations (the authors' --woEMO, --woCOG, --woDiv), each removing its part
        "wo-aff": {"model": {"use_affective": False}},
        "wo-cog": {"model": {"use_cognitive": False}},
        "wo-div": {"losses": [spec for spec in CEM_LOSSES if spec["name"] != "cem.diversity"]},
    }

    def __init__(self, config, options, plugins) -> None:
        super().__init__(config, options, plugins)
        if not (options.use_affective or options.use_cognitive):
            raise ConfigError("model.use_affective and model.use_cognitive cannot both be false "
                              "(the decoder would have no refined context)")
        switched = {"affective", "cognitive_relations"} & set(options.refinement_options)
        if switched:
            raise ConfigError(f"model.refinement_options.{sorted(switched)[0]} is set by the system: use "
                              f"model.use_affective / model.use_cognitive (presets wo-aff, wo-cog)")
        if options.use_cognitive and not options.cognitive_relations:
            raise ConfigError("model.cognitive_relations is empty: set model.use_cognitive=false (preset wo-cog)")

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "tokenizer": {"kind": "word", "vocab_size": 30000},
            "knowledge": {"comet.social": {}},
            "losses": [dict(spec) for spec in CEM_LOSSES],
            # no gradient clipping (train_one_batch: loss.backward(); self.optimizer.step()).
            # The authors' main.py: validation perplexity every 2,000 iterations, none counted while
            # n_iter < 12,000, keep the lowest, stop at the third evaluation without improvement
            "train": {"optimizer": "adam", "lr": NOAM_PEAK_LR, "schedule": "noam", "warmup_steps": 8000,
                      "betas": [0.9, 0.98], "eps": 1e-9, "batch_size": 16, "clip_norm": None,
                      "early_stopping_on": "token_nll", "eval_every": 2000, "early_stopping_after": 12000, "patience": 3},
            # main.py evaluates the test split greedily with max_dec_step=50
            "generation": {"strategy": "greedy", "max_length": 50},
        }

    # -- knowledge ---------------------------------------------------------------------------
    def knowledge_sources(self) -> dict[str, dict[str, Any]]:
        name = self.options.knowledge_source
        if name is None:
            return {}
        return {name: dict(self.config.knowledge.get(name, {}))}

    @property
    def knowledge_field(self) -> Optional[str]:
        o = self.options
        if o.knowledge_source is None:
            return None
        return o.knowledge_field or o.knowledge_source.replace(".", "_")

    @property
    def relations(self) -> list[str]:
        """The relations the model reads, cognitive first, the affective one last."""
        o = self.options
        return [*(o.cognitive_relations if o.use_cognitive else []), *([o.affective_relation] if o.use_affective else [])]

    # -- data --------------------------------------------------------------------------------
    def prepare(self, splits: dict[str, Any]) -> dict[str, Any]:
        """The training split's response token counts (``cem.diversity`` with
        ``frequencies: train``); deterministic, training split only."""
        from edg_baselines.cem_diversity_loss import TARGET_TOKEN_FREQUENCIES

        tok = self.tokenizer
        targets = list(splits["train"]["target"])
        counts = [0] * len(tok)
        eos = tok.convert_tokens_to_ids(EOS)
        for ids in (tok(targets, add_special_tokens=False)["input_ids"] if targets else []):
            for t in ids:
                if t != eos:
                    counts[t] += 1
        self.statistics[TARGET_TOKEN_FREQUENCIES] = counts
        return splits

    @property
    def encode_columns(self) -> tuple[str, ...]:
        field = self.knowledge_field
        return ("context", "roles", "target", *([field] if field else []))

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        """Once per split: ``[CLS] [SPK] u1 [LIS] u2 ...``, the target, and each relation's
        knowledge sequence (:meth:`knowledge_sequences`)."""
        out = super().encode(batch)
        field = self.knowledge_field
        if field is None:
            knowledge = [None] * len(out["input_ids"])
        elif field not in batch:
            raise ConfigError(f"the samples have no knowledge column '{field}' (set model.knowledge_field or "
                              f"model.knowledge_source)")
        else:
            knowledge = batch[field]
        out["knowledge_ids"] = self.knowledge_sequences(knowledge)
        return out

    def encoding_fingerprint(self) -> dict[str, Any]:
        return {**super().encoding_fingerprint(), "relations": self.relations, "field": self.knowledge_field,
                "max_knowledge_tokens": self.options.max_knowledge_tokens}

    def knowledge_sequences(self, knowledge: list[Any]) -> list[list[list[int]]]:
        """CEM's token sequences of each relation (the registered refinement module's format)."""
        cls = self.plugins.get("emotion_module", self.options.refinement_module)
        return cls.knowledge_sequences(self.tokenizer, knowledge, self.relations,
                                       affective_last=self.options.use_affective,
                                       max_tokens=self.options.max_knowledge_tokens)

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        if samples and "knowledge_ids" not in samples[0]:  # raw samples (generate, chat): encode them now
            encoded = self.encode({c: [s.get(c) for s in samples] for c in self.encode_columns})
            samples = [{**s, **{k: v[i] for k, v in encoded.items()}} for i, s in enumerate(samples)]
        batch = super().collate(samples)  # pads the encoded context and target
        tok = self.tokenizer
        flat = [seq for s in samples for seq in s["knowledge_ids"]]
        ids = pad(flat, tok.pad_token_id).view(len(samples), len(self.relations), -1)
        batch["knowledge_ids"], batch["knowledge_mask"] = ids, ids.ne(tok.pad_token_id)
        return batch

    # -- model -------------------------------------------------------------------------------
    def build_model(self):
        from edg_baselines.cem_model import CemModel, xavier_init

        o = self.options
        tok = self.tokenizer
        embedding = self.build_embedding()
        cognitive = len(o.cognitive_relations) if o.use_cognitive else 0
        refinement_options = {"layers": o.layers, "heads": o.heads, "ffn_dim": o.ffn_dim, "dropout": o.dropout,
                              "attention_dim": o.attention_dim, "feed_forward": o.feed_forward,
                              "max_positions": o.max_positions, **o.refinement_options,
                              "affective": o.use_affective, "cognitive_relations": cognitive}
        refinement = self.component("emotion_module", o.refinement_module, refinement_options,
                                    key="model.refinement_options", d_model=o.d_model, num_emotions=len(EMOTIONS))
        decoder_options = {"layers": o.layers, "heads": o.heads, "ffn_dim": o.ffn_dim, "dropout": o.dropout,
                           "attention_dim": o.attention_dim, "feed_forward": o.feed_forward, **o.decoder_options}
        decoder = self.component("decoder", o.decoder, decoder_options, key="model.decoder_options",
                                 d_model=o.d_model, embedding=embedding, bos_id=tok.convert_tokens_to_ids(BOS),
                                 eos_id=tok.convert_tokens_to_ids(EOS), pad_id=tok.pad_token_id)
        model = CemModel(embedding, d_model=o.d_model, layers=o.layers, heads=o.heads, ffn_dim=o.ffn_dim,
                         dropout=o.dropout, max_positions=o.max_positions, cognitive_relations=cognitive,
                         affective=o.use_affective, refinement=refinement, decoder=decoder,
                         attention_dim=o.attention_dim, feed_forward=o.feed_forward)
        if o.xavier_init:
            xavier_init(model)
        return model
