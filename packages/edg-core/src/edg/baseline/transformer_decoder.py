"""Decoder ``transformer``: a Transformer decoder over the encoder memory, with the output
projection tied to the shared word embedding (as MoEL/CEM).

Teacher forcing runs :class:`torch.nn.TransformerDecoder`; generation runs the same layers
(pre-norm self-attention, cross-attention, feed-forward) one token at a time over a key/value
cache: the self-attention keys/values of earlier positions are kept per layer, and the
cross-attention keys/values of the memory are computed once in :meth:`start` and kept once
per example (the beams of an example share them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.decoder import Decoder
from edg.interfaces.types import DecoderOutput, EncoderOutput
from edg.baseline.dialogue_embedding import DialogueEmbedding
from edg.baseline.conv_feed_forward import step_feed_forward
from edg.baseline.layer_step import decoder_layer, in_projection, merge_heads, split_heads


class TransformerDecoderOptions(StrictModel):
    layers: int = 2
    heads: int = 2
    ffn_dim: int = 1024
    dropout: float = 0.1
    attention_dim: Optional[int] = None
    """Width the attention blocks project queries, keys and values to
    (:mod:`edg.baseline.narrow_attention`, the MoEL family's ``--depth``); ``None``:
    ``d_model``, torch's ``nn.MultiheadAttention``."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """``conv``: the MoEL family's causal convolutions of kernel 3
    (:mod:`edg.baseline.conv_feed_forward`)."""


@dataclass
class TransformerDecoderState:
    """Key/value cache of one search.

    The memory's keys/values are kept once per example (``M`` rows), not once per beam:
    ``rows`` maps each of the ``N`` decoding rows to its example, and while every example
    has ``group`` consecutive rows (always, in the core's searches) the ``group`` queries of
    an example attend to its keys in one product.
    """

    rows: Tensor
    """[N] the example (row of ``cross``/``memory_mask``) each row decodes."""
    group: Optional[int]
    """Rows per example when ``rows`` is ``0..M-1`` each repeated ``group`` times, else None."""
    memory_mask: Tensor
    """[M, 1, 1, L] True on real memory tokens."""
    cross: list[tuple[Tensor, Tensor]]
    """Per layer, the cross-attention keys and values of the memory, [M, H, L, D/H]."""
    past: list[tuple[Tensor, ...]]
    """Per layer, the self-attention keys and values of the fed tokens, [N, H, t, D/H] (then,
    with the convolutional feed-forward, the last inputs of its two convolutions)."""
    position: int = 0
    hidden: Optional[Tensor] = None
    """[N, D] last-layer states of the last fed tokens."""


def _cross_attention(q: Tensor, state: TransformerDecoderState, layer: int) -> Tensor:
    """Queries [N, H, 1, dh] over their examples' memory -> [N, H, 1, dh]."""
    keys, values = state.cross[layer]
    if state.group is None:  # irregular rows: gather each row's memory
        rows = state.rows
        return F.scaled_dot_product_attention(q, keys.index_select(0, rows), values.index_select(0, rows),
                                              attn_mask=state.memory_mask.index_select(0, rows))
    n, h, _, dh = q.shape
    grouped = q.view(n // state.group, state.group, h, dh).transpose(1, 2)  # [M, H, group, dh]
    out = F.scaled_dot_product_attention(grouped, keys, values, attn_mask=state.memory_mask)
    return out.transpose(1, 2).reshape(n, h, 1, dh)


def regroup(rows: Tensor, index: Tensor, memory: list[Tensor]) -> tuple[Tensor, Optional[int], list[Tensor]]:
    """Rows after ``reorder(index)``: examples no row decodes any more are dropped from the
    per-example ``memory`` tensors; returns the new rows, their group size and the memory."""
    new = rows.index_select(0, index)
    used = torch.unique(new)  # sorted
    m = memory[0].size(0)
    if used.numel() < m:
        memory = [x.index_select(0, used) for x in memory]
        new = torch.searchsorted(used, new)
        m = used.numel()
    n = new.numel()
    group = n // m if n % m == 0 else None
    if group is not None and not torch.equal(new, torch.arange(m, device=new.device).repeat_interleave(group)):
        group = None
    return new, group, memory


class TransformerDecoder(Decoder):
    Options = TransformerDecoderOptions

    def __init__(self, options: TransformerDecoderOptions, *, d_model: int, embedding: DialogueEmbedding,
                 bos_id: int, eos_id: int, pad_id: int) -> None:
        super().__init__(options)
        self.embedding = embedding
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        layer = decoder_layer(d_model, options.heads, options.ffn_dim, options.dropout, options.attention_dim,
                              options.feed_forward)
        self.layers = nn.TransformerDecoder(layer, options.layers, norm=nn.LayerNorm(d_model))

    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        hidden = self.hidden_states(input_ids, memory)
        return DecoderOutput(hidden @ self.embedding.word.weight.t(), hidden)

    def _log_probs(self, hidden: Tensor) -> Tensor:
        return torch.log_softmax((hidden @ self.embedding.word.weight.t()).float(), dim=-1)

    def next_token(self, prefix: Tensor, memory: EncoderOutput) -> Tensor:
        # project only the last position onto the vocabulary: the costliest product
        return self._log_probs(self.hidden_states(prefix, memory)[:, -1])

    def hidden_states(self, input_ids: Tensor, memory: EncoderOutput) -> Tensor:
        t = input_ids.size(1)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=input_ids.device), diagonal=1)
        return self.layers(
            self.embedding(input_ids),
            memory.hidden,
            tgt_mask=causal,
            tgt_key_padding_mask=input_ids.eq(self.pad_id) & input_ids.ne(self.bos_id),
            memory_key_padding_mask=~memory.mask,
        )

    # -- incremental decoding ----------------------------------------------------------------
    def start(self, memory: EncoderOutput) -> TransformerDecoderState:
        cross = []
        for layer in self.layers.layers:
            attn = layer.multihead_attn
            keys = split_heads(F.linear(memory.hidden, *in_projection(attn, 1)), attn.num_heads)
            values = split_heads(F.linear(memory.hidden, *in_projection(attn, 2)), attn.num_heads)
            cross.append((keys, values))
        rows = torch.arange(memory.batch_size, device=memory.hidden.device)
        return TransformerDecoderState(rows, 1, memory.mask[:, None, None, :], cross, [])

    def _embed_position(self, tokens: Tensor, position: int) -> Tensor:
        emb = self.embedding
        if position >= emb.positions.size(0):
            raise ValueError(f"sequence of {position + 1} tokens exceeds max_len {emb.positions.size(0)}")
        return emb.dropout(emb.word(tokens[:, None]) * emb.scale + emb.positions[position])

    def step(self, tokens: Tensor, state: TransformerDecoderState) -> tuple[Tensor, TransformerDecoderState]:
        x = self._embed_position(tokens, state.position)  # [N, 1, D]
        past = []
        for i, layer in enumerate(self.layers.layers):
            attn = layer.self_attn
            q, k, v = F.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
            k, v = split_heads(k, attn.num_heads), split_heads(v, attn.num_heads)
            if state.past:
                k, v = torch.cat([state.past[i][0], k], 2), torch.cat([state.past[i][1], v], 2)
            h = F.scaled_dot_product_attention(split_heads(q, attn.num_heads), k, v)
            x = x + layer.dropout1(attn.out_proj(merge_heads(h)))

            attn = layer.multihead_attn
            q = split_heads(F.linear(layer.norm2(x), *in_projection(attn, 0)), attn.num_heads)
            x = x + layer.dropout2(attn.out_proj(merge_heads(_cross_attention(q, state, i))))

            h, history = step_feed_forward(layer, layer.norm3(x), state.past[i][2:] if state.past else ())
            x = x + layer.dropout3(h)
            past.append((k, v, *history))
        hidden = self.layers.norm(x)[:, 0]
        state = TransformerDecoderState(state.rows, state.group, state.memory_mask, state.cross, past,
                                        state.position + 1, hidden)
        return self._log_probs(hidden), state

    def reorder(self, state: TransformerDecoderState, index: Tensor) -> TransformerDecoderState:
        past = [tuple(t.index_select(0, index) for t in cache) for cache in state.past]
        memory = [state.memory_mask, *(t for kv in state.cross for t in kv)]
        rows, group, memory = regroup(state.rows, index, memory)
        cross = [(memory[1 + 2 * i], memory[2 + 2 * i]) for i in range(len(state.cross))]
        return TransformerDecoderState(rows, group, memory[0], cross, past, state.position, None)

    def last_hidden(self, state: TransformerDecoderState) -> Optional[Tensor]:
        return state.hidden
