"""System ``moel``: MoEL, Mixture of Empathetic Listeners (Lin et al., EMNLP 2019).

Components: the core's dialogue embedding and Transformer encoder layers, the emotion tracker
(the core's ``pooled`` emotion module on the [CLS] state), the decoder ``moel.listeners``
(32 emotion listeners + a shared listener + the meta listener), and the loss terms ``nll``
(label-smoothed, as MoEL) and ``emotion`` -- all by registered name. Optional speaker persona
(Li et al., 2016) from the samples' ``target_speaker`` (the release's ``speaker_idx``, kept by
the core's loader). See ``docs/plugins/moel.md``.

Defaults are the authors' command for MoEL (README of HLTCHKUST/MoEL: ``--model experts
--label_smoothing --noam --emb_dim 300 --hidden_dim 300 --hop 1 --heads 2 --topk 5
--pretrain_emb --softmax --basic_learner --schedule 10000``) and ``utils/config.py``'s
defaults for what the command leaves out (``--filter 50``, ``--batch_size 16``).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from typing import Any, Literal, Optional

from edg.config import StrictModel
from edg.data import EMOTIONS
from edg.errors import ConfigError
from edg.tokenization import BOS, EOS
from edg_baselines.cls_context_system import ClsContextSystem

#: peak of MoEL's NoamOpt(d_model=300, factor=1, warmup=8000)
NOAM_PEAK_LR = round((300 * 8000) ** -0.5, 8)
#: the sample column holding the responder's speaker_idx (the core loader's ``SPEAKER_COLUMNS``)
RESPONDER_COLUMN = "target_speaker"


def speaker_vocabulary(train_speakers: list[str]) -> dict[str, int]:
    """Speaker id -> embedding row, 1..K in sorted order of the training split's speakers
    (row 0 is kept for speakers not seen in training)."""
    return {s: i + 1 for i, s in enumerate(sorted(set(train_speakers)))}


class MoelOptions(StrictModel):
    d_model: int = 300
    """``--emb_dim 300 --hidden_dim 300``."""
    layers: int = 1
    """Encoder layers (``--hop 1``)."""
    heads: int = 2
    """``--heads 2``."""
    ffn_dim: int = 50
    """Feed-forward width (``--filter``, default 50)."""
    attention_dim: Optional[int] = 40
    """Width every attention projects queries, keys and values to (``--depth``, default 40:
    ``total_key_depth``/``total_value_depth`` of the encoder and every decoder layer);
    ``None``: ``d_model``, as torch's attention."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """Feed-forward of the encoder and every decoder layer: ``linear`` (the core's); ``conv``:
    the authors' two convolutions of kernel 3 with a ReLU after each (causal in the decoders;
    :mod:`edg.baseline.conv_feed_forward`), three times the parameters. The converged runs of
    docs/results.md used ``linear``."""
    dropout: float = 0.0
    """The authors' encoder and decoders are built without dropout (all rates default to 0)."""
    max_positions: int = 1024
    embeddings_path: Optional[str] = None
    """A GloVe text file (glove.6B.300d.txt, ``--pretrain_emb``); ``None`` trains embeddings."""
    top_k: int = 5
    """Listeners weighted per example (``--topk 5``); 0: softmax over all 32."""
    oracle_schedule: float = 10000
    """``--schedule 10000``: decay of the probability of routing a training batch to its gold
    emotion's listener; 0 turns the oracle off."""
    shared_listener: bool = True
    """``--basic_learner``."""
    meta_layers: int = 1
    """Decoder layers of the meta listener (``--hop 1``)."""
    tie_output: bool = False
    """Output projection tied to the word embeddings (``--weight_sharing``; off in MoEL's command)."""
    emotion_module: str = "pooled"
    """Registered emotion module of the emotion tracker."""
    emotion_options: dict[str, Any] = {"pooling": "first", "dropout": 0.0}
    """MoEL's tracker: a linear map of the encoder state at [CLS] (``decoder_key``)."""
    decoder: str = "moel.listeners"
    decoder_options: dict[str, Any] = {}
    persona: bool = False
    """Speaker persona (Li et al., 2016): an embedding of the responder's ``speaker_idx``
    (the samples' ``target_speaker``) added to the decoder input; needs data that carries it
    (the official CSV layout, the hub copy, or a JSONL export with the speaker columns)."""


TINY: dict[str, Any] = {
    "model": {"d_model": 32, "layers": 1, "heads": 2, "ffn_dim": 64, "attention_dim": 16, "top_k": 5,
              "oracle_schedule": 20},
    "tokenizer": {"vocab_size": 2000, "max_context_tokens": 96, "max_target_tokens": 24},
    "train": {"batch_size": 8, "eval_batch_size": 16, "max_steps": 40, "eval_every": 20, "log_every": 10,
              "warmup_steps": 10, "lr": 1e-3, "schedule": "constant", "progress": False,
              "early_stopping_after": 0},
    "eval": {"batch_size": 16},
    "generation": {"max_length": 12},
}


class MoelSystem(ClsContextSystem):
    Options = MoelOptions
    description = "MoEL: emotion tracker + 32 emotion listeners + shared listener + meta listener (Lin et al. 2019)"
    predicts_emotion = True
    presets = {
        "tiny": TINY,
        # the authors' code switches, each removing exactly its part
        "wo-shared-listener": {"model": {"shared_listener": False}},
        "wo-oracle": {"model": {"oracle_schedule": 0}},
        "all-listeners": {"model": {"top_k": 0}},
        "persona": {"model": {"persona": True}},
    }

    def __init__(self, config, options, plugins) -> None:
        super().__init__(config, options, plugins)
        if options.top_k < 0 or options.top_k > len(EMOTIONS):
            raise ConfigError(f"model.top_k must be in 0..{len(EMOTIONS)}, got {options.top_k}")
        if options.oracle_schedule < 0:
            raise ConfigError(f"model.oracle_schedule must be >= 0, got {options.oracle_schedule}")
        self.speakers: dict[str, int] = {}

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "tokenizer": {"kind": "word", "vocab_size": 30000},
            # MoEL: label-smoothed (0.1) generation loss *summed* over the batch's target tokens
            # (LabelSmoothing's KLDivLoss(reduction='sum')) + the batch-mean emotion cross-entropy,
            # weights 1: the emotion term weighs about one target token's worth
            "losses": [{"name": "nll", "weight": 1.0, "options": {"label_smoothing": 0.1, "reduction": "sum"}},
                       {"name": "emotion", "weight": 1.0}],
            # NoamOpt(300, 1, 8000, Adam(betas 0.9/0.98, eps 1e-9)), batch 16, no gradient
            # clipping (a summed loss would be clipped at every step). The authors' main.py
            # validates every 2,000 iterations, keeps the checkpoint of the lowest validation
            # perplexity, ignores the evaluations up to iteration 13,000 (the oracle routing still
            # steers most batches) and stops after the third evaluation without improvement
            "train": {"optimizer": "adam", "lr": NOAM_PEAK_LR, "schedule": "noam", "warmup_steps": 8000,
                      "betas": [0.9, 0.98], "eps": 1e-9, "batch_size": 16, "clip_norm": None,
                      "early_stopping_on": "token_nll",
                      "eval_every": 2000, "patience": 3, "early_stopping_after": 13000},
            # main.py evaluates the test split greedily with max_dec_step=50
            "generation": {"strategy": "greedy", "max_length": 50},
        }

    # -- data --------------------------------------------------------------------------------
    def prepare(self, splits: dict[str, Any]) -> dict[str, Any]:
        """With persona on: the speaker vocabulary of the training split's ``target_speaker``
        (the core's loader keeps ``speaker_idx`` for data in the official layout)."""
        if not self.options.persona:
            return splits
        for split, dataset in splits.items():
            if RESPONDER_COLUMN not in dataset.column_names:
                raise ConfigError(f"model.persona needs each sample's {RESPONDER_COLUMN} (the responder's "
                                  f"speaker_idx), which the {split} split lacks (a JSONL copy without "
                                  f"context_speakers/target_speaker?): load the official ED CSV layout or set "
                                  f"model.persona=false")
        self.speakers = speaker_vocabulary([s for s in splits["train"][RESPONDER_COLUMN] if s])
        if len(self.speakers) <= 2:
            warnings.warn(f"model.persona: the training split has {len(self.speakers)} distinct speaker_idx "
                          f"values (a role-based copy?); the persona embedding is then a role embedding",
                          UserWarning, stacklevel=2)
        return splits

    def encoding_fingerprint(self) -> dict[str, Any]:
        speakers = hashlib.sha256(json.dumps(sorted(self.speakers.items())).encode()).hexdigest()[:16]
        return {**super().encoding_fingerprint(), "persona": self.options.persona, "speakers": speakers}

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        """The context and target (:class:`ClsContextSystem`) and, with persona on, the
        responder's speaker row."""
        out = super().encode(batch)
        if self.options.persona:
            speakers = batch.get(RESPONDER_COLUMN) or [""] * len(out["input_ids"])
            out["responder_id"] = [self.speakers.get(s, 0) for s in speakers]
        return out

    @property
    def encode_columns(self) -> tuple[str, ...]:
        return ("context", "roles", "target", RESPONDER_COLUMN) if self.options.persona else super().encode_columns

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = super().collate(samples)
        if self.options.persona:
            import torch

            encoded = samples and "responder_id" in samples[0]
            ids = [s["responder_id"] for s in samples] if encoded else self.encode(
                {k: [s.get(k) for s in samples] for k in self.encode_columns})["responder_id"]
            batch["responder_id"] = torch.tensor(ids, dtype=torch.long)
        return batch

    # -- model -------------------------------------------------------------------------------
    def build_model(self):
        from edg_baselines.moel_model import MoelModel

        o = self.options
        tok = self.tokenizer
        embedding = self.build_embedding()
        emotion = self.component("emotion_module", o.emotion_module, o.emotion_options, key="model.emotion_options",
                                 d_model=o.d_model, num_emotions=len(EMOTIONS))
        decoder_options = {"num_listeners": len(EMOTIONS), "heads": o.heads, "ffn_dim": o.ffn_dim,
                           "dropout": o.dropout, "attention_dim": o.attention_dim, "feed_forward": o.feed_forward,
                           "shared_listener": o.shared_listener,
                           "meta_layers": o.meta_layers, "tie_output": o.tie_output, **o.decoder_options}
        decoder = self.component("decoder", o.decoder, decoder_options, key="model.decoder_options",
                                 d_model=o.d_model, embedding=embedding, bos_id=tok.convert_tokens_to_ids(BOS),
                                 eos_id=tok.convert_tokens_to_ids(EOS), pad_id=tok.pad_token_id)
        if o.persona and not self.speakers:
            raise ConfigError(f"model.persona: no speaker ids (prepare() found no non-empty {RESPONDER_COLUMN} "
                              f"in the training split)")
        return MoelModel(embedding, d_model=o.d_model, layers=o.layers, heads=o.heads, ffn_dim=o.ffn_dim,
                         dropout=o.dropout, attention_dim=o.attention_dim, feed_forward=o.feed_forward, emotion=emotion, decoder=decoder, top_k=o.top_k,
                         oracle_schedule=o.oracle_schedule, num_speakers=len(self.speakers) if o.persona else 0)
