"""System ``mime``: MIME, MIMicking Emotions for empathetic response generation (Majumder et
al., EMNLP 2020).

Parts: the core's dialogue embedding and Transformer layers; MIME's emotion classifier against
the emotion embeddings, positive/negative emotion groups, stochastic emotion mixture,
mimicking/non-mimicking emotion-aware context encoders and their gate (this package); the
response decoder by registered name (the core's ``transformer`` decoder, attending over the
emotion-fused context); losses ``nll`` (label-smoothed), ``emotion`` and ``mime.kl``.
See ``docs/plugins/mime.md``.

Defaults: declare-lab/MIME ``utils/config.py`` (its defaults are the paper's run: ``--hop 1
--heads 2 --depth 40 --filter 50 --hidden_dim 300 --emb_dim 300 --batch_size 16
--label_smoothing --noam --emo_input self_att --emo_combine gate``) and ``VAESampling(...,
out_dim=300)`` for the latent width.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from edg.config import StrictModel
from edg.data import EMOTIONS
from edg.errors import ConfigError
from edg.tokenization import BOS, EOS
from edg_baselines.cls_context_system import ClsContextSystem

NOAM_PEAK_LR = round((300 * 8000) ** -0.5, 8)
# the generation loss is LabelSmoothing (KLDivLoss(reduction='sum')): summed over the batch's
# target tokens; the KL is VAESampling.kl_div, a torch.sum over the batch too; the emotion
# cross-entropy is a batch mean (model/trainer.py)
LOSSES = [{"name": "nll", "weight": 1.0, "options": {"label_smoothing": 0.1, "reduction": "sum"}},
          {"name": "emotion", "weight": 1.0},
          {"name": "mime.kl", "weight": 1.0, "options": {"reduction": "sum"}}]


class MimeOptions(StrictModel):
    d_model: int = 300
    """``--hidden_dim 300 --emb_dim 300``."""
    layers: int = 1
    """``--hop 1`` (context encoder, each emotion-aware encoder, decoder)."""
    heads: int = 2
    ffn_dim: int = 50
    """``--filter 50``."""
    attention_dim: Optional[int] = 40
    """Width every attention projects queries, keys and values to (``--depth``, default 40:
    ``total_key_depth``/``total_value_depth`` of the context encoder, both emotion-aware
    encoders and the decoder); ``None``: ``d_model``, as torch's attention."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """Feed-forward of every encoder and decoder layer: ``linear`` (the core's); ``conv``: the
    authors' two convolutions of kernel 3 with a ReLU after each
    (:mod:`edg.baseline.conv_feed_forward`)."""
    dropout: float = 0.0
    """The authors' layers are built without dropout."""
    latent: int = 300
    """Width of each group's latent ``z`` (``VAESampling(out_dim=300)``)."""
    max_positions: int = 1024
    embeddings_path: Optional[str] = None
    """A GloVe text file (glove.6B.300d.txt); ``None`` trains embeddings."""
    # ablation switches
    grouping: bool = True
    """Positive/negative emotion groups; off: one mixture over all 32 emotions, one
    emotion-aware encoder and no gate (no mimicry possible)."""
    mimicry: bool = True
    """Route the user's polarity group to the mimicking encoder; off: the positive group always
    feeds encoder 1 and the negative group encoder 2."""
    stochastic: bool = True
    """Sample the emotion latents in training (with the posterior and its KL term); off: the
    prior mean, no posterior, no ``mime.kl``."""
    decoder: str = "transformer"
    """Registered decoder attending over the emotion-fused context."""
    decoder_options: dict[str, Any] = {}


TINY: dict[str, Any] = {
    "model": {"d_model": 32, "layers": 1, "heads": 2, "ffn_dim": 64, "attention_dim": 16, "latent": 16},
    "tokenizer": {"vocab_size": 2000, "max_context_tokens": 96, "max_target_tokens": 24},
    "train": {"batch_size": 8, "eval_batch_size": 16, "max_steps": 40, "eval_every": 20, "log_every": 10,
              "warmup_steps": 10, "lr": 1e-3, "schedule": "constant", "progress": False,
              "early_stopping_after": 0},
    "eval": {"batch_size": 16},
    "generation": {"max_length": 12},
}


def _losses_without(name: str) -> list[dict[str, Any]]:
    return [dict(spec) for spec in LOSSES if spec["name"] != name]


class MimeSystem(ClsContextSystem):
    Options = MimeOptions
    description = "MIME: emotion groups, mimicry, stochastic emotion mixture, emotion-aware decoder (Majumder et al. 2020)"
    predicts_emotion = True
    presets = {
        "tiny": TINY,
        "wo-grouping": {"model": {"grouping": False}},
        "wo-mimicry": {"model": {"mimicry": False}},
        "wo-stochastic": {"model": {"stochastic": False}, "losses": _losses_without("mime.kl")},
    }

    def __init__(self, config, options, plugins) -> None:
        super().__init__(config, options, plugins)
        names = [spec.name for spec in config.losses]
        if "mime.kl" in names and not options.stochastic:
            raise ConfigError("loss 'mime.kl' needs model.stochastic: true (use the preset wo-stochastic)")

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "tokenizer": {"kind": "word", "vocab_size": 30000},
            "losses": [dict(spec) for spec in LOSSES],
            # no gradient clipping (train_one_batch: loss.backward(); optimizer.step()). The authors'
            # main.py: validation perplexity every 1,000 iterations, none counted while
            # n_iter < 10,000, keep the lowest, stop at the third evaluation without improvement
            "train": {"optimizer": "adam", "lr": NOAM_PEAK_LR, "schedule": "noam", "warmup_steps": 8000,
                      "betas": [0.9, 0.98], "eps": 1e-9, "batch_size": 16, "clip_norm": None,
                      "early_stopping_on": "token_nll",
                      "eval_every": 1000, "early_stopping_after": 10000, "patience": 3},
            # main.py evaluates with max_dec_step=50
            "generation": {"strategy": "greedy", "max_length": 50},
        }

    def build_model(self):
        from edg_baselines.mime_model import MimeModel

        o = self.options
        tok = self.tokenizer
        embedding = self.build_embedding()
        decoder_options = {"layers": o.layers, "heads": o.heads, "ffn_dim": o.ffn_dim, "dropout": o.dropout,
                           "attention_dim": o.attention_dim, "feed_forward": o.feed_forward, **o.decoder_options}
        decoder = self.component("decoder", o.decoder, decoder_options, key="model.decoder_options",
                                 d_model=o.d_model, embedding=embedding, bos_id=tok.convert_tokens_to_ids(BOS),
                                 eos_id=tok.convert_tokens_to_ids(EOS), pad_id=tok.pad_token_id)
        return MimeModel(embedding, d_model=o.d_model, layers=o.layers, heads=o.heads, ffn_dim=o.ffn_dim,
                         dropout=o.dropout, attention_dim=o.attention_dim, feed_forward=o.feed_forward, latent=o.latent, decoder=decoder, num_emotions=len(EMOTIONS),
                         grouping=o.grouping, mimicry=o.mimicry, stochastic=o.stochastic)
