"""System ``transformer``: the from-scratch Transformer encoder-decoder baseline
(Vaswani et al. 2017), the "Transformer" row of every EDG results table.

Defaults follow MoEL/CEM where the published baseline rows come from: word-level vocabulary
from the training split, 300-d shared embeddings (GloVe when ``model.embeddings_path`` is
set), 2 heads, Adam with the Noam schedule, batch 16, greedy decoding up to 30 tokens. Two
departures from the MoEL/CEM code (``utils/config.py``, ``model/common_layer.py``), kept
because the converged runs in docs/results.md use them: the feed-forward width is 1,024
(theirs: ``--filter 50``, with attention projected to ``--depth 40``) and dropout is 0.1
(theirs: every rate 0), and attention projects to ``d_model`` (theirs: ``--depth 40``).
``model.ffn_dim=50 model.dropout=0 model.attention_dim=40`` gives their widths and dropout.
"""

from __future__ import annotations

from typing import Any, Optional

from edg.baseline.collate import collate_dialogue, encode_dialogue
from edg.config import StrictModel
from edg.interfaces.system import System
from edg.baseline.dialogue_embedding import DialogueEmbedding, load_glove
from edg.baseline.seq2seq import TransformerSeq2Seq
from edg.tokenization import BOS, EOS


class TransformerOptions(StrictModel):
    d_model: int = 300
    layers: int = 2
    heads: int = 2
    ffn_dim: int = 1024
    dropout: float = 0.1
    attention_dim: Optional[int] = None
    """Width the encoder's and decoder's attention project queries, keys and values to (the
    MoEL-family code's ``--depth 40``); ``None``: ``d_model``, torch's ``nn.MultiheadAttention``."""
    max_positions: int = 1024
    embeddings_path: Optional[str] = None
    """A GloVe text file (e.g. glove.6B.300d.txt); ``None`` trains embeddings from scratch."""
    decoder: str = "transformer"
    """Registered name of the decoder."""
    decoder_options: dict[str, Any] = {}


#: a small model and a short run: smoke tests, offline demos, CPU checks of a pipeline
TINY: dict[str, Any] = {
    "model": {"d_model": 32, "layers": 1, "heads": 2, "ffn_dim": 64},
    "tokenizer": {"vocab_size": 2000, "max_context_tokens": 96, "max_target_tokens": 24},
    "train": {"batch_size": 8, "eval_batch_size": 16, "max_steps": 40, "eval_every": 20, "log_every": 10,
              "warmup_steps": 10, "lr": 1e-3, "schedule": "constant"},
    "eval": {"batch_size": 16},
    "generation": {"max_length": 12},
}


def build_dialogue_embedding(tokenizer: Any, *, d_model: int, max_positions: int = 1024, dropout: float = 0.1,
                             embeddings_path: Optional[str] = None) -> DialogueEmbedding:
    """Word + position + dialogue-state embeddings over ``tokenizer``'s vocabulary, the
    word table initialised from a GloVe text file when ``embeddings_path`` is set (the
    ``model.embeddings_path`` key: a missing file is a one-line error naming it)."""
    emb = DialogueEmbedding(len(tokenizer), d_model, tokenizer.pad_token_id, max_len=max_positions, dropout=dropout)
    if embeddings_path:
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        table, _found = load_glove(embeddings_path, vocab, d_model)
        emb.word.weight.data.copy_(table)
    return emb


class TransformerSystem(System):
    Options = TransformerOptions
    description = "from-scratch Transformer encoder-decoder baseline"
    presets = {"tiny": TINY}

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "tokenizer": {"kind": "word", "vocab_size": 30000},
            "losses": [{"name": "nll", "weight": 1.0}],
            # MoEL/CEM's NoamOpt (factor 1, warm-up 8000, d=300) peaks at 300^-0.5 * 8000^-0.5
            "train": {"optimizer": "adam", "lr": 6.455e-4, "schedule": "noam", "warmup_steps": 8000,
                      "betas": [0.9, 0.98], "batch_size": 16},
            "generation": {"strategy": "greedy", "max_length": 30},
        }

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        tok = self.config.tokenizer
        return encode_dialogue(batch, self.tokenizer, max_context_tokens=tok.max_context_tokens,
                               max_target_tokens=tok.max_target_tokens)

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        tok = self.config.tokenizer
        return collate_dialogue(samples, self.tokenizer, max_context_tokens=tok.max_context_tokens,
                                max_target_tokens=tok.max_target_tokens)

    def build_embedding(self) -> DialogueEmbedding:
        o = self.options
        return build_dialogue_embedding(self.tokenizer, d_model=o.d_model, max_positions=o.max_positions,
                                        dropout=o.dropout, embeddings_path=o.embeddings_path)

    def build_emotion_module(self):
        return None

    def build_model(self) -> TransformerSeq2Seq:
        o = self.options
        embedding = self.build_embedding()
        # passed only when set: a registered decoder other than the core's may not take it
        narrow = {} if o.attention_dim is None else {"attention_dim": o.attention_dim}
        decoder_options = {"layers": o.layers, "heads": o.heads, "ffn_dim": o.ffn_dim, "dropout": o.dropout,
                           **narrow, **o.decoder_options}
        tok = self.tokenizer
        decoder = self.component(
            "decoder", o.decoder, decoder_options, key="model.decoder_options",
            d_model=o.d_model, embedding=embedding, bos_id=tok.convert_tokens_to_ids(BOS),
            eos_id=tok.convert_tokens_to_ids(EOS), pad_id=tok.pad_token_id,
        )
        return TransformerSeq2Seq(embedding, d_model=o.d_model, layers=o.layers, heads=o.heads,
                                  ffn_dim=o.ffn_dim, dropout=o.dropout, decoder=decoder,
                                  emotion=self.build_emotion_module(), attention_dim=o.attention_dim)
