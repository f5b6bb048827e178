"""Decoder ``ctsm.pointer_generator``: a Transformer decoder with a pointer-generator
output (See et al., 2017), as CTSM's eq. 20 ``P_w = PoGen(Decoder(E_Y, H_C^stu))``.

Following CEM's ``Generator`` (the code CTSM builds on):

* ``P_vocab = softmax(h_t · E^T)`` with the output projection tied to the shared word
  embedding ``E``;
* ``p_gen = σ(w_gen · h_t + b_gen)`` from the decoder state;
* the copy distribution is the last layer's encoder-decoder attention (averaged over the
  heads) scattered onto the source token ids, which come via
  ``EncoderOutput.extras["input_ids"]``;
* ``P = p_gen · P_vocab + (1 − p_gen) · copy`` (:func:`pointer_generator_mixture`).

``forward`` returns log-probabilities (``DecoderOutput(is_log_probs=True)``), with
``extras = {"p_gen": [B, T, 1], "copy_attention": [B, T, L]}``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.decoder import Decoder
from edg.interfaces.types import DecoderOutput, EncoderOutput
from edg.models.embeddings import DialogueEmbedding

#: floor of a mixed probability before the log (keeps log finite where both parts are 0)
MIN_PROB = 1e-12


def pointer_generator_mixture(vocab_logits: Tensor, copy_attention: Tensor, source_ids: Tensor,
                              p_gen: Tensor) -> Tensor:
    """``log(p_gen · softmax(vocab_logits) + (1 − p_gen) · copy)``.

    :param vocab_logits: [B, T, V]
    :param copy_attention: [B, T, L], each row a distribution over source positions
    :param source_ids: [B, L] vocabulary ids of the source tokens
    :param p_gen: [B, T, 1] generation probability
    :returns: log-probabilities [B, T, V]
    """
    vocab = torch.softmax(vocab_logits.float(), dim=-1)
    index = source_ids.unsqueeze(1).expand(-1, copy_attention.size(1), -1)
    copy = torch.zeros_like(vocab).scatter_add(-1, index, copy_attention.float())
    p_gen = p_gen.float()
    mixed = p_gen * vocab + (1.0 - p_gen) * copy
    return torch.log(mixed.clamp(min=MIN_PROB))


class PointerGeneratorOptions(StrictModel):
    layers: int = 1
    heads: int = 2
    ffn_dim: int = 50
    dropout: float = 0.1
    pointer: bool = True
    """``False``: plain softmax over the vocabulary (``p_gen`` fixed to 1)."""


class DecoderLayer(nn.Module):
    """Pre-norm self-attention, encoder-decoder attention (weights returned) and FFN."""

    def __init__(self, d_model: int, heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        # no dropout on the cross-attention weights: they are the copy distribution
        self.cross_attn = nn.MultiheadAttention(d_model, heads, dropout=0.0, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn_dim), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(ffn_dim, d_model))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor, causal: Tensor, tgt_pad: Tensor, mem_pad: Tensor):
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, h, attn_mask=causal, key_padding_mask=tgt_pad,
                                            need_weights=False)[0])
        h = self.norm2(x)
        attended, weights = self.cross_attn(h, memory, memory, key_padding_mask=mem_pad, need_weights=True,
                                            average_attn_weights=True)
        x = x + self.dropout(attended)
        x = x + self.dropout(self.ffn(self.norm3(x)))
        return x, weights


class PointerGeneratorDecoder(Decoder):
    Options = PointerGeneratorOptions

    def __init__(self, options: PointerGeneratorOptions, *, d_model: int, embedding: DialogueEmbedding,
                 bos_id: int, eos_id: int, pad_id: int) -> None:
        super().__init__(options)
        if d_model % options.heads:
            raise ValueError(f"d_model {d_model} is not divisible by {options.heads} decoder heads")
        self.embedding = embedding
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, options.heads, options.ffn_dim, options.dropout) for _ in range(options.layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.p_gen = nn.Linear(d_model, 1) if options.pointer else None

    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        hidden, weights = self._states(input_ids, memory)
        return self._distribution(hidden, weights, memory)

    def next_token(self, prefix: Tensor, memory: EncoderOutput) -> Tensor:
        # the output distribution of the last position only: generation never needs the others
        hidden, weights = self._states(prefix, memory)
        return self._distribution(hidden[:, -1:], weights[:, -1:], memory).logits[:, -1, :]

    def _states(self, input_ids: Tensor, memory: EncoderOutput) -> tuple[Tensor, Tensor]:
        t = input_ids.size(1)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=input_ids.device), diagonal=1)
        tgt_pad = input_ids.eq(self.pad_id) & input_ids.ne(self.bos_id)
        x = self.embedding(input_ids)
        weights = None
        for layer in self.layers:
            x, weights = layer(x, memory.hidden, causal, tgt_pad, ~memory.mask)
        return self.norm(x), weights

    def _distribution(self, hidden: Tensor, weights: Tensor, memory: EncoderOutput) -> DecoderOutput:
        logits = hidden @ self.embedding.word.weight.t()
        if self.p_gen is None:
            return DecoderOutput(torch.log_softmax(logits.float(), -1), hidden, is_log_probs=True)
        source_ids = memory.extras.get("input_ids")
        if source_ids is None:
            raise ValueError("ctsm.pointer_generator needs the source ids in EncoderOutput.extras['input_ids']")
        p_gen = torch.sigmoid(self.p_gen(hidden))
        log_probs = pointer_generator_mixture(logits, weights, source_ids, p_gen)
        return DecoderOutput(log_probs, hidden, is_log_probs=True,
                             extras={"p_gen": p_gen, "copy_attention": weights})
