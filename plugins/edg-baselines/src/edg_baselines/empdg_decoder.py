"""Decoder ``empdg.decoder``: EmpDG's empathetic response decoder (Li et al., 2020; the
authors' ``Empdg_G.Decoder`` + ``Generator``).

* The first decoder input is the **emotion signal** (a linear map of the emotion logits,
  ``EncoderOutput.extras["emotion_signal"]`` [B, D]) instead of the BOS embedding: the
  authors' ``sos_emb = emotion_embedding(emotion_logit)``. Without a signal (EmpDG w/o G),
  BOS is embedded as usual.
* Transformer decoder layers (queries, keys and values projected to ``attention_dim``, the
  authors' ``--depth``) attend over the memory, which EmpDG makes the concatenation of
  the semantic context states and the emotion-word states.
* The feed-forward block is linear or, with ``feed_forward: conv``, the authors' causal
  convolutions (``layer_config='cc'``, :mod:`edg.baseline.conv_feed_forward`).
* A pointer-generator output (``--pointer_gen``): ``P = p_gen * softmax(W h_t) + (1 - p_gen)
  * copy``, the copy distribution being a softmax of the last layer's head-averaged
  encoder-decoder attention scores, scattered onto the memory's token ids
  (``EncoderOutput.extras["input_ids"]``), as the authors' ``Generator`` does with
  ``softmax(attn_dist)``. The output projection is its own linear layer (the authors' command
  does not share weights).

``forward`` returns log-probabilities (``DecoderOutput(is_log_probs=True)``). Generation is
incremental: each layer keeps the self-attention keys/values of the fed tokens (and, with the
convolutional feed-forward, its convolutions' last inputs); the memory's keys/values are
computed once per search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.api import DialogueEmbedding, in_projection, merge_heads, split_heads
from edg.baseline.conv_feed_forward import decoder_feed_forward, run_feed_forward
from edg.baseline.narrow_attention import NarrowMultiheadAttention
from edg.config import StrictModel
from edg.interfaces.decoder import Decoder, follow_rows
from edg.interfaces.types import DecoderOutput, EncoderOutput

#: ``EncoderOutput.extras`` key of the emotion signal that replaces the BOS embedding
EMOTION_SIGNAL = "emotion_signal"
#: floor of a mixed probability before the log
MIN_PROB = 1e-12


class EmpdgDecoderOptions(StrictModel):
    layers: int = 1
    """``--hop 1``."""
    heads: int = 2
    """``--heads 2``."""
    ffn_dim: int = 50
    """``--filter 50``."""
    attention_dim: Optional[int] = None
    """Width the self- and encoder-decoder attention project queries, keys and values to (the
    authors' ``total_key_depth``/``total_value_depth`` = ``--depth``; the system passes its
    ``model.attention_dim``, 40); ``None``: ``d_model``, torch's ``nn.MultiheadAttention``."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """``linear``, or ``conv``: the authors' two causal convolutions of kernel 3 with a ReLU
    after each (the system passes its ``model.feed_forward``)."""
    dropout: float = 0.0
    """The authors' decoder layers are built without dropout."""
    pointer: bool = True
    """``--pointer_gen``; ``False``: a plain softmax over the vocabulary."""


class CopyAttentionLayer(nn.Module):
    """Pre-norm self-attention, encoder-decoder attention (also returning its head-averaged
    scores, the copy logits) and a ReLU feed-forward block (linear or convolutional).

    Its cache after the fed positions: the self-attention keys and values, followed for the
    convolutional feed-forward by its convolutions' last inputs, ``(k, v, first, second)``."""

    def __init__(self, d_model: int, heads: int, ffn_dim: int, dropout: float,
                 attention_dim: Optional[int] = None, feed_forward: str = "linear") -> None:
        super().__init__()
        if attention_dim is None:
            self.self_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
            self.cross_attn = nn.MultiheadAttention(d_model, heads, dropout=0.0, batch_first=True)
        else:  # read only through in_proj_weight/in_proj_bias/out_proj/num_heads, as torch's
            self.self_attn = NarrowMultiheadAttention(d_model, heads, attention_dim, dropout)
            self.cross_attn = NarrowMultiheadAttention(d_model, heads, attention_dim, 0.0)
        self.ffn = decoder_feed_forward(d_model, ffn_dim, dropout, feed_forward)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def memory_keys_values(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        attn = self.cross_attn
        return (split_heads(F.linear(memory, *in_projection(attn, 1)), attn.num_heads),
                split_heads(F.linear(memory, *in_projection(attn, 2)), attn.num_heads))

    def _cross(self, x: Tensor, keys: Tensor, values: Tensor, memory_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Attention of ``x`` [N, T, D] over the memory keys/values [N, H, L, dh]; returns the
        attended states [N, T, D] and the head-averaged scores [N, T, L] (masked to -inf)."""
        attn = self.cross_attn
        q = split_heads(F.linear(self.norm2(x), *in_projection(attn, 0)), attn.num_heads)
        scores = (q @ keys.transpose(-1, -2)) / math.sqrt(q.size(-1))  # [N, H, T, L]
        scores = scores.masked_fill(~memory_mask, float("-inf"))
        out = attn.out_proj(merge_heads(torch.softmax(scores, dim=-1) @ values))
        return out, scores.mean(1)

    def forward(self, x: Tensor, kv: tuple[Tensor, Tensor], memory_mask: Tensor, causal: Tensor,
                target_pad: Tensor) -> tuple[Tensor, Tensor]:
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, h, attn_mask=causal, key_padding_mask=target_pad,
                                            need_weights=False)[0])
        attended, scores = self._cross(x, *kv, memory_mask)
        x = x + self.dropout(attended)
        return x + self.dropout(run_feed_forward(self.ffn, self.norm3(x))[0]), scores

    def step(self, x: Tensor, past: Optional[tuple[Tensor, ...]], kv: tuple[Tensor, Tensor],
             memory_mask: Tensor) -> tuple[Tensor, tuple[Tensor, ...], Tensor]:
        """One position ``x`` [N, 1, D] after the cache ``past`` (``None`` at the first)."""
        attn = self.self_attn
        q, k, v = F.linear(self.norm1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        k, v = split_heads(k, attn.num_heads), split_heads(v, attn.num_heads)
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        h = F.scaled_dot_product_attention(split_heads(q, attn.num_heads), k, v)
        x = x + self.dropout(attn.out_proj(merge_heads(h)))
        attended, scores = self._cross(x, *kv, memory_mask)
        x = x + self.dropout(attended)
        h, history = run_feed_forward(self.ffn, self.norm3(x), () if past is None else past[2:])
        return x + self.dropout(h), (k, v, *history), scores


@dataclass
class EmpdgDecoderState:
    rows: Tensor
    """[N] the example (memory row) each decoding row continues."""
    memory_mask: Tensor
    """[N, 1, 1, L] True on real memory tokens."""
    source_ids: Optional[Tensor]
    """[N, L] token ids of the memory (the copy targets)."""
    signal: Optional[Tensor]
    """[N, D] the emotion signal fed at the first position."""
    cross: list[tuple[Tensor, Tensor]]
    past: list[tuple[Tensor, ...]]
    position: int = 0
    hidden: Optional[Tensor] = None


class EmpdgDecoder(Decoder):
    Options = EmpdgDecoderOptions

    def __init__(self, options: EmpdgDecoderOptions, *, d_model: int, embedding: DialogueEmbedding,
                 bos_id: int, eos_id: int, pad_id: int) -> None:
        super().__init__(options)
        if d_model % options.heads:
            raise ValueError(f"d_model {d_model} is not divisible by {options.heads} decoder heads")
        self.embedding = embedding
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.layers = nn.ModuleList(CopyAttentionLayer(d_model, options.heads, options.ffn_dim, options.dropout,
                                                       options.attention_dim, options.feed_forward)
                                    for _ in range(options.layers))
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, embedding.word.num_embeddings)
        self.p_gen = nn.Linear(d_model, 1) if options.pointer else None

    # -- embedding of the decoder inputs ------------------------------------------------------
    def _embed(self, input_ids: Tensor, signal: Optional[Tensor], start: int = 0) -> Tensor:
        emb = self.embedding
        t = input_ids.size(1)
        if start + t > emb.positions.size(0):
            raise ValueError(f"sequence of {start + t} tokens exceeds max_len {emb.positions.size(0)}")
        words = emb.word(input_ids) * emb.scale
        if signal is not None and start == 0:
            # the emotion signal takes the place of the BOS embedding (authors' sos_emb)
            words = torch.cat([signal[:, None].to(words.dtype), words[:, 1:]], dim=1)
        return emb.dropout(words + emb.positions[start:start + t])

    def _source_ids(self, memory: EncoderOutput) -> Optional[Tensor]:
        if self.p_gen is None:
            return None
        ids = memory.extras.get("input_ids")
        if ids is None:
            raise ValueError("empdg.decoder needs the memory's token ids in EncoderOutput.extras['input_ids']")
        return ids

    def _distribution(self, hidden: Tensor, copy_scores: Tensor, source_ids: Optional[Tensor]) -> DecoderOutput:
        logits = self.out(hidden)
        if self.p_gen is None:
            return DecoderOutput(torch.log_softmax(logits.float(), -1), hidden, is_log_probs=True)
        p_gen = torch.sigmoid(self.p_gen(hidden)).float()
        vocab = torch.softmax(logits.float(), dim=-1)
        copy = torch.softmax(copy_scores.float(), dim=-1)  # [N, T, L]
        index = source_ids.unsqueeze(1).expand(-1, copy.size(1), -1)
        copied = torch.zeros_like(vocab).scatter_add(-1, index, copy)
        mixed = p_gen * vocab + (1.0 - p_gen) * copied
        return DecoderOutput(torch.log(mixed.clamp(min=MIN_PROB)), hidden, is_log_probs=True,
                             extras={"p_gen": p_gen})

    # -- teacher forcing ------------------------------------------------------------------------
    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        t = input_ids.size(1)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=input_ids.device), diagonal=1)
        target_pad = input_ids.eq(self.pad_id)
        target_pad[:, 0] = False  # the first position is BOS or the emotion signal
        memory_mask = memory.mask[:, None, None, :]
        x = self._embed(input_ids, memory.extras.get(EMOTION_SIGNAL))
        scores = None
        for layer in self.layers:
            x, scores = layer(x, layer.memory_keys_values(memory.hidden), memory_mask, causal, target_pad)
        return self._distribution(self.norm(x), scores, self._source_ids(memory))

    # -- incremental decoding -------------------------------------------------------------------
    def start(self, memory: EncoderOutput) -> EmpdgDecoderState:
        rows = torch.arange(memory.batch_size, device=memory.hidden.device)
        cross = [layer.memory_keys_values(memory.hidden) for layer in self.layers]
        return EmpdgDecoderState(rows, memory.mask[:, None, None, :], self._source_ids(memory),
                                 memory.extras.get(EMOTION_SIGNAL), cross, [])

    def step(self, tokens: Tensor, state: EmpdgDecoderState) -> tuple[Tensor, EmpdgDecoderState]:
        x = self._embed(tokens[:, None], state.signal, start=state.position)
        past, scores = [], None
        for i, layer in enumerate(self.layers):
            x, kv, scores = layer.step(x, state.past[i] if state.past else None, state.cross[i], state.memory_mask)
            past.append(kv)
        hidden = self.norm(x)
        log_probs = self._distribution(hidden, scores, state.source_ids).logits[:, 0]
        state = EmpdgDecoderState(state.rows, state.memory_mask, state.source_ids, state.signal, state.cross, past,
                                  state.position + 1, hidden[:, 0])
        return log_probs, state

    def reorder(self, state: EmpdgDecoderState, index: Tensor) -> EmpdgDecoderState:
        rows, moved = follow_rows(state.rows, index)
        past = [tuple(t.index_select(0, index) for t in cache) for cache in state.past]
        mask, source_ids, signal, cross = state.memory_mask, state.source_ids, state.signal, state.cross
        if moved:
            mask = mask.index_select(0, index)
            source_ids = None if source_ids is None else source_ids.index_select(0, index)
            signal = None if signal is None else signal.index_select(0, index)
            cross = [(k.index_select(0, index), v.index_select(0, index)) for k, v in cross]
        return EmpdgDecoderState(rows, mask, source_ids, signal, cross, past, state.position, None)

    def last_hidden(self, state: EmpdgDecoderState) -> Optional[Tensor]:
        return state.hidden
