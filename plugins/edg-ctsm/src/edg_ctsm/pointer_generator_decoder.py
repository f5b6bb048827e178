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

Generation is incremental (:class:`PointerGeneratorState`): each layer keeps the
self-attention keys/values of the fed tokens, and the cross-attention keys/values of the
memory (whose attention weights are the copy distribution) are computed once per search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.decoder import Decoder, follow_rows
from edg.interfaces.types import DecoderOutput, EncoderOutput
from edg.baseline.dialogue_embedding import DialogueEmbedding
from edg.baseline.layer_step import in_projection, merge_heads, split_heads

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


@dataclass
class PointerGeneratorState:
    """Incremental state of one search."""

    rows: Tensor
    """[N] the memory row (example) each row decodes."""
    memory_mask: Tensor
    """[N, 1, 1, L] True on real memory tokens."""
    source_ids: Optional[Tensor]
    """[N, L] vocabulary ids of the source tokens (the copy targets)."""
    cross: list[tuple[Tensor, Tensor]]
    """Per layer, the cross-attention keys and values of the memory, [N, H, L, D/H]."""
    past: list[tuple[Tensor, Tensor]]
    """Per layer, the self-attention keys and values of the fed tokens, [N, H, t, D/H]."""
    position: int = 0
    hidden: Optional[Tensor] = None


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

    def memory_keys_values(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        attn = self.cross_attn
        return (split_heads(F.linear(memory, *in_projection(attn, 1)), attn.num_heads),
                split_heads(F.linear(memory, *in_projection(attn, 2)), attn.num_heads))

    def step(self, x: Tensor, past: Optional[tuple[Tensor, Tensor]], cross: tuple[Tensor, Tensor],
             memory_mask: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor]:
        """One position ``x`` [N, 1, D] over the cached keys/values: the new states, the
        self-attention keys/values including this position, and the head-averaged
        cross-attention weights [N, 1, L]."""
        attn = self.self_attn
        q, k, v = F.linear(self.norm1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        k, v = split_heads(k, attn.num_heads), split_heads(v, attn.num_heads)
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        h = F.scaled_dot_product_attention(split_heads(q, attn.num_heads), k, v)
        x = x + self.dropout(attn.out_proj(merge_heads(h)))

        attn = self.cross_attn
        q = split_heads(F.linear(self.norm2(x), *in_projection(attn, 0)), attn.num_heads)
        keys, values = cross
        scores = (q @ keys.transpose(-1, -2)) / math.sqrt(q.size(-1))
        weights = torch.softmax(scores.masked_fill(~memory_mask, float("-inf")), dim=-1)  # [N, H, 1, L]
        x = x + self.dropout(attn.out_proj(merge_heads(weights @ values)))
        x = x + self.dropout(self.ffn(self.norm3(x)))
        return x, (k, v), weights.mean(1)


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
        return self._distribution(hidden, weights, self._source_ids(memory))

    def next_token(self, prefix: Tensor, memory: EncoderOutput) -> Tensor:
        # the output distribution of the last position only: generation never needs the others
        hidden, weights = self._states(prefix, memory)
        return self._distribution(hidden[:, -1:], weights[:, -1:], self._source_ids(memory)).logits[:, -1, :]

    def _states(self, input_ids: Tensor, memory: EncoderOutput) -> tuple[Tensor, Tensor]:
        t = input_ids.size(1)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=input_ids.device), diagonal=1)
        tgt_pad = input_ids.eq(self.pad_id) & input_ids.ne(self.bos_id)
        x = self.embedding(input_ids)
        weights = None
        for layer in self.layers:
            x, weights = layer(x, memory.hidden, causal, tgt_pad, ~memory.mask)
        return self.norm(x), weights

    def _source_ids(self, memory: EncoderOutput) -> Optional[Tensor]:
        if self.p_gen is None:
            return None
        source_ids = memory.extras.get("input_ids")
        if source_ids is None:
            raise ValueError("ctsm.pointer_generator needs the source ids in EncoderOutput.extras['input_ids']")
        return source_ids

    def _distribution(self, hidden: Tensor, weights: Tensor, source_ids: Optional[Tensor]) -> DecoderOutput:
        logits = hidden @ self.embedding.word.weight.t()
        if self.p_gen is None:
            return DecoderOutput(torch.log_softmax(logits.float(), -1), hidden, is_log_probs=True)
        p_gen = torch.sigmoid(self.p_gen(hidden))
        log_probs = pointer_generator_mixture(logits, weights, source_ids, p_gen)
        return DecoderOutput(log_probs, hidden, is_log_probs=True,
                             extras={"p_gen": p_gen, "copy_attention": weights})

    # -- incremental decoding ----------------------------------------------------------------
    def start(self, memory: EncoderOutput) -> PointerGeneratorState:
        rows = torch.arange(memory.batch_size, device=memory.hidden.device)
        cross = [layer.memory_keys_values(memory.hidden) for layer in self.layers]
        return PointerGeneratorState(rows, memory.mask[:, None, None, :], self._source_ids(memory), cross, [])

    def step(self, tokens: Tensor, state: PointerGeneratorState) -> tuple[Tensor, PointerGeneratorState]:
        emb = self.embedding
        if state.position >= emb.positions.size(0):
            raise ValueError(f"sequence of {state.position + 1} tokens exceeds max_len {emb.positions.size(0)}")
        x = emb.dropout(emb.word(tokens[:, None]) * emb.scale + emb.positions[state.position])
        past, weights = [], None
        for i, layer in enumerate(self.layers):
            x, kv, weights = layer.step(x, state.past[i] if state.past else None, state.cross[i], state.memory_mask)
            past.append(kv)
        hidden = self.norm(x)
        log_probs = self._distribution(hidden, weights, state.source_ids).logits[:, 0]
        state = PointerGeneratorState(state.rows, state.memory_mask, state.source_ids, state.cross, past,
                                      state.position + 1, hidden[:, 0])
        return log_probs, state

    def reorder(self, state: PointerGeneratorState, index: Tensor) -> PointerGeneratorState:
        rows, moved = follow_rows(state.rows, index)
        past = [(k.index_select(0, index), v.index_select(0, index)) for k, v in state.past]
        mask, source_ids, cross = state.memory_mask, state.source_ids, state.cross
        if moved:
            mask = mask.index_select(0, index)
            source_ids = None if source_ids is None else source_ids.index_select(0, index)
            cross = [(k.index_select(0, index), v.index_select(0, index)) for k, v in cross]
        return PointerGeneratorState(rows, mask, source_ids, cross, past, state.position, None)

    def last_hidden(self, state: PointerGeneratorState) -> Optional[Tensor]:
        return state.hidden
