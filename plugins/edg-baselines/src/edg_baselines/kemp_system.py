"""System ``kemp``: KEMP, Knowledge Bridging for Empathetic Dialogue Generation (Li et al.,
AAAI 2022).

Parts: the knowledge source ``kemp.concepts`` (ConceptNet neighbours ranked by NRC VAD
emotion intensity, cached per word by the core), the emotional context graph built from it
once per split in :meth:`encode` (tokenize-once: collate only pads; the graph's attention
mask is built on the device from padded ``concept_owner`` indices), the graph encoder
(``kemp_model``), the emotion module ``kemp.emotion_signal``, the decoder ``kemp.decoder``
and the losses ``nll`` (label-smoothed), ``emotion`` and ``kemp.attention`` -- all by
registered name. See ``docs/plugins/kemp.md``.

Defaults: the authors' command for KEMP (README of qtli/KEMP: ``--label_smoothing --noam
--emb_dim 300 --hidden_dim 300 --hop 1 --heads 2 --pretrain_emb --model KEMP --concept_num 1
--total_concept_num 10 --attn_loss --pointer_gen``) and ``main.py``'s defaults for what it
leaves out (``--filter 50``, ``--batch_size 16``, ``--dropout 0.2`` of the graph attention).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from edg.config import StrictModel
from edg.data import EMOTIONS
from edg.errors import ConfigError, DataError
from edg.tokenization import BOS, EOS, SEP
from edg_baselines.cls_context_system import ClsContextSystem

#: peak of KEMP's NoamOpt(d_model=300, factor=1, warmup=8000)
NOAM_PEAK_LR = round((300 * 8000) ** -0.5, 8)
SOURCE = "kemp.concepts"
COLUMN = "kemp_concepts"
# KEMP.train_one_batch: LabelSmoothing (KLDivLoss(reduction='sum')) summed over the batch's
# target tokens + CrossEntropyLoss(reduction='sum') summed over its conversations + 0.1 × the
# attention loss (MSELoss, a mean)
LOSSES = [{"name": "nll", "weight": 1.0, "options": {"label_smoothing": 0.1, "reduction": "sum"}},
          {"name": "emotion", "weight": 1.0, "options": {"reduction": "sum"}},
          {"name": "kemp.attention", "weight": 0.1}]
#: padding of ``concept_owner`` (-1: the [SEP] slot that no token owns)
OWNER_PAD = -2
#: sub-word markers stripped before a token is looked up as a word
_MARKERS = ("Ġ", "▁", "##")


class KempOptions(StrictModel):
    d_model: int = 300
    """``--emb_dim 300 --hidden_dim 300``."""
    layers: int = 1
    """Encoder layers (``--hop 1``)."""
    heads: int = 2
    """``--heads 2`` (encoder, graph attention)."""
    ffn_dim: int = 50
    """``--filter 50``."""
    attention_dim: Optional[int] = 40
    """Width the encoder's and the decoder's attention project queries, keys and values to
    (``--depth``, default 40: ``total_key_depth``/``total_value_depth`` of ``Encoder`` and
    ``Decoder``); ``None``: ``d_model``, as torch's attention. The graph attention (the
    authors' ``W_q``/``W_k``/``W_v`` at ``emb_dim``) keeps the full width."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """Feed-forward of every encoder and decoder layer: ``linear`` (the core's); ``conv``: the
    authors' two convolutions of kernel 3 with a ReLU after each
    (:mod:`edg.baseline.conv_feed_forward`)."""
    dropout: float = 0.0
    """The authors' Transformer layers are built without dropout."""
    graph_dropout: float = 0.2
    """Dropout of the graph attention (``--dropout 0.2``)."""
    max_positions: int = 1024
    embeddings_path: Optional[str] = None
    """A GloVe text file (glove.6B.300d.txt, ``--pretrain_emb``); ``None`` trains embeddings."""
    graph: bool = True
    """The emotional context graph (concepts + graph attention); off: KEMP w/o ECE."""
    concepts_per_word: int = 1
    """Concepts per context word (``--concept_num 1``)."""
    total_concepts: int = 10
    """Concepts per sample, the most intense kept (``--total_concept_num 10``)."""
    emotion_module: str = "kemp.emotion_signal"
    emotion_options: dict[str, Any] = {}
    decoder: str = "kemp.decoder"
    decoder_options: dict[str, Any] = {}


TINY: dict[str, Any] = {
    "model": {"d_model": 32, "layers": 1, "heads": 2, "ffn_dim": 64, "attention_dim": 16},
    "tokenizer": {"vocab_size": 2000, "max_context_tokens": 96, "max_target_tokens": 24},
    "train": {"batch_size": 8, "eval_batch_size": 16, "max_steps": 40, "eval_every": 20, "log_every": 10,
              "warmup_steps": 10, "lr": 1e-3, "schedule": "constant", "progress": False,
              "early_stopping_after": 0},
    "eval": {"batch_size": 16},
    "generation": {"max_length": 12},
    # offline: edg-baselines' hand-made graph and edg-vad's hand-made lexicon (not ConceptNet, not NRC)
    "knowledge": {SOURCE: {"handmade_conceptnet": True, "handmade_lexicon": True}},
}


def _pad_float(rows: list[list[float]], value: float):
    import numpy as np
    import torch

    out = np.full((len(rows), max((len(r) for r in rows), default=1) or 1), value, dtype=np.float32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return torch.from_numpy(out)


class KempSystem(ClsContextSystem):
    Options = KempOptions
    description = "KEMP: emotional context graph (ConceptNet + NRC VAD), emotion signal, emotional cross-attention (Li et al. 2022)"
    predicts_emotion = True
    presets = {
        "tiny": TINY,
        # the paper's ablations (Table 4), each removing exactly its part
        "wo-ece": {"model": {"graph": False}, "knowledge": {SOURCE: {"use_conceptnet": False}}},
        "wo-edd": {"model": {"decoder_options": {"emotion_cross_attention": False}},
                   "losses": [dict(s) for s in LOSSES if s["name"] != "kemp.attention"]},
    }

    def __init__(self, config, options, plugins) -> None:
        super().__init__(config, options, plugins)
        if options.concepts_per_word < 1 or options.total_concepts < 1:
            raise ConfigError(f"model.concepts_per_word and model.total_concepts must be >= 1, "
                              f"got {options.concepts_per_word} and {options.total_concepts}")
        source = config.knowledge.get(SOURCE)
        if source is None:
            raise ConfigError(f"knowledge.{SOURCE} is missing: KEMP reads emotion intensities and concepts from it")
        if options.graph and source.get("use_conceptnet") is False:
            raise ConfigError(f"model.graph: true needs knowledge.\"{SOURCE}\".use_conceptnet: true "
                              f"(use the preset wo-ece for KEMP without the graph)")
        if options.graph and not (source.get("conceptnet_path") or source.get("handmade_conceptnet")):
            raise ConfigError(f"knowledge.\"{SOURCE}\".conceptnet_path is not set: KEMP's emotional context graph needs "
                              f"ConceptNet's assertions file (conceptnet-assertions-5.7.0.csv.gz, see docs/plugins/kemp.md)")
        if not (source.get("lexicon_path") or source.get("handmade_lexicon")):
            raise ConfigError(f"knowledge.\"{SOURCE}\".lexicon_path is not set: KEMP's emotion intensities need the NRC "
                              f"VAD lexicon (NRC-VAD-Lexicon.txt, see docs/plugins/vad.md)")
        self._vocab: Optional[dict[str, int]] = None

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "tokenizer": {"kind": "word", "vocab_size": 30000},
            "losses": [dict(spec) for spec in LOSSES],
            # NoamOpt(300, 1, 8000, Adam(betas 0.9/0.98, eps 1e-9)), batch 16, no gradient clipping
            # (train_one_batch: loss.backward(); self.optimizer.step())
            # the authors' main.py: validation perplexity every 2,000 iterations (--check_iter),
            # none counted while n_iter < 13,000, keep the lowest, stop at the third evaluation
            # without improvement
            "train": {"optimizer": "adam", "lr": NOAM_PEAK_LR, "schedule": "noam", "warmup_steps": 8000,
                      "betas": [0.9, 0.98], "eps": 1e-9, "batch_size": 16, "clip_norm": None,
                      "early_stopping_on": "token_nll", "eval_every": 2000, "early_stopping_after": 13000, "patience": 3},
            # main.py --test decodes greedily with max_dec_step=30 (the released outputs)
            "generation": {"strategy": "greedy", "max_length": 30},
            # both resources are set by path (not bundled); shown here so that `edg config kemp` names the keys
            "knowledge": {SOURCE: {"conceptnet_path": None, "lexicon_path": None}},
        }

    # -- data --------------------------------------------------------------------------------
    def encoding_fingerprint(self) -> dict[str, Any]:
        o = self.options
        return {**super().encoding_fingerprint(), "kemp": [1, o.graph, o.concepts_per_word, o.total_concepts]}

    @property
    def encode_columns(self) -> tuple[str, ...]:
        return ("context", "roles", "target", COLUMN)

    def _concept_id(self, concept: str) -> Optional[int]:
        if self._vocab is None:
            self._vocab = dict(self.tokenizer.get_vocab())
        return self._vocab.get(concept, self._vocab.get("Ġ" + concept))

    def _graph(self, tokens: list[str], entry: dict[str, list]) -> dict[str, list]:
        """One sample's vertices beyond the context: token intensities, and the concepts
        (the first ``concepts_per_word`` in-vocabulary ones of each word, then the
        ``total_concepts`` most intense of the sample, in token order)."""
        o = self.options
        lookup = {word: i for i, word in enumerate(entry["words"])}
        intensity = [0.0] * len(tokens)
        candidates: list[tuple[float, int, int]] = []  # (intensity, position, concept id)
        for position, token in enumerate(tokens[1:], 1):  # 0 is [CLS], the root
            word = token.lower()
            for marker in _MARKERS:
                word = word.removeprefix(marker)
            j = lookup.get(word)
            if j is None:
                continue
            intensity[position] = float(entry["intensity"][j])
            if not o.graph:
                continue
            kept = 0
            for concept, eta in zip(entry["concepts"][j], entry["concept_intensity"][j]):
                concept_id = self._concept_id(concept)
                if concept_id is None or kept == o.concepts_per_word:
                    continue
                candidates.append((float(eta), position, concept_id))
                kept += 1
        if len(candidates) > o.total_concepts:  # the most intense, ties by position; then back in token order
            best = sorted(range(len(candidates)), key=lambda i: (-candidates[i][0], i))[: o.total_concepts]
            candidates = [candidates[i] for i in sorted(best)]
        sep = self.tokenizer.convert_tokens_to_ids(SEP)
        return {"context_intensity": intensity,
                "concept_ids": [sep] + [c for _, _, c in candidates],
                "concept_owner": [-1] + [p for _, p, _ in candidates],
                "concept_intensity": [0.0] + [eta for eta, _, _ in candidates]}

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        """The context with [CLS] and the target (:class:`ClsContextSystem`) and each
        sample's graph (``context_intensity``, ``concept_ids``, ``concept_owner``,
        ``concept_intensity``)."""
        out = super().encode(batch)
        entries = batch.get(COLUMN)
        if entries is None:
            raise DataError(f"samples have no '{COLUMN}' column: KEMP's knowledge source '{SOURCE}' annotates it "
                            f"(configure knowledge.\"{SOURCE}\")")
        graphs = [self._graph(self.tokenizer.convert_ids_to_tokens(ids), entry)
                  for ids, entry in zip(out["input_ids"], entries)]
        for key in ("context_intensity", "concept_ids", "concept_owner", "concept_intensity"):
            out[key] = [g[key] for g in graphs]
        return out

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        from edg.api import pad, pad_dialogue

        if samples and "input_ids" not in samples[0]:  # raw samples (e.g. edg.pipeline.respond)
            encoded = self.encode({k: [s.get(k) for s in samples] for k in self.encode_columns})
            samples = [{**s, **{k: v[i] for k, v in encoded.items()}} for i, s in enumerate(samples)]
        batch = pad_dialogue(samples, self.tokenizer.pad_token_id)
        batch["context_intensity"] = _pad_float([s["context_intensity"] for s in samples], 0.0)
        if self.options.graph:
            batch["concept_ids"] = pad([s["concept_ids"] for s in samples], self.tokenizer.pad_token_id)
            batch["concept_owner"] = pad([s["concept_owner"] for s in samples], OWNER_PAD)
            batch["concept_intensity"] = _pad_float([s["concept_intensity"] for s in samples], 0.0)
        return batch

    # -- model -------------------------------------------------------------------------------
    def build_model(self):
        from edg_baselines.kemp_model import KempModel

        o = self.options
        tok = self.tokenizer
        embedding = self.build_embedding()
        emotion = self.component("emotion_module", o.emotion_module, o.emotion_options, key="model.emotion_options",
                                 d_model=o.d_model, num_emotions=len(EMOTIONS))
        decoder_options = {"layers": o.layers, "heads": o.heads, "ffn_dim": o.ffn_dim, "dropout": o.dropout,
                           "attention_dim": o.attention_dim, "feed_forward": o.feed_forward, **o.decoder_options}
        decoder = self.component("decoder", o.decoder, decoder_options, key="model.decoder_options",
                                 d_model=o.d_model, embedding=embedding, bos_id=tok.convert_tokens_to_ids(BOS),
                                 eos_id=tok.convert_tokens_to_ids(EOS), pad_id=tok.pad_token_id)
        return KempModel(embedding, d_model=o.d_model, layers=o.layers, heads=o.heads, ffn_dim=o.ffn_dim,
                         dropout=o.dropout, graph_dropout=o.graph_dropout, graph=o.graph, emotion=emotion,
                         decoder=decoder, num_emotions=len(EMOTIONS), attention_dim=o.attention_dim,
                         feed_forward=o.feed_forward)
