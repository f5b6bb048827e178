"""Decoder ``kemp.decoder``: KEMP's emotion-dependency decoder (Li et al., 2022; the authors'
``Decoder``, ``DecoderLayer``, ``MultiHeadAttention`` and ``Generator``):

* the first input is the emotion signal: ``W_z e_p`` (a linear map of the 32 emotion
  logits, ``memory.extras["emotion_start"]``) takes the place of [BOS]'s embedding;
* pre-norm layers of causal self-attention, **emotional cross-attention** (both projecting
  queries, keys and values to ``attention_dim``, the authors' ``--depth``) and a
  feed-forward block; the cross-attention's output is fused with the emotion context
  ``c_e`` (``memory.extras["emotion_context"]``): ``W_f [MHA(x, G) ; c_e]``
  (``emotion_cross_attention: false`` keeps the plain cross-attention: KEMP w/o EDD); the
  feed-forward is linear or, with ``feed_forward: conv``, the authors' causal convolutions
  (``layer_config='cc'``, :mod:`edg.baseline.conv_feed_forward`);
* the last layer's attention over the graph, ``softmax(mean over heads of the scores)``
  [B, T, S], is returned in ``extras["attention"]`` (the emotional attention loss
  ``kemp.attention`` reads it) and drives the copy mechanism (``copy_from_graph``, the authors'
  ``--pointer_gen``): ``P(y) = g P_vocab(y) + (1 - g) sum_{i: x_i = y} a_i`` over the graph's
  tokens (``memory.extras["source_ids"]``), ``g = sigmoid(W_g h)``.

The decoder returns log-probabilities (``is_log_probs``). Generation keeps a key/value cache
per layer (and, with the convolutional feed-forward, the convolutions' last inputs); what depends only on the memory (cross-attention keys and values) is computed
once in :meth:`start`.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.api import merge_heads, split_heads
from edg.baseline.conv_feed_forward import decoder_feed_forward, run_feed_forward
from edg.baseline.narrow_attention import attention_width
from edg.config import StrictModel
from edg.interfaces.decoder import Decoder
from edg.interfaces.types import DecoderOutput, EncoderOutput

EMOTION_START = "emotion_start"
EMOTION_CONTEXT = "emotion_context"
SOURCE_IDS = "source_ids"
ATTENTION = "attention"
KeyValue = tuple[Tensor, Tensor]
#: one layer's cache: ``(k, v)``, or ``(k, v, first, second)`` with the convolutional feed-forward
LayerCache = tuple[Tensor, ...]


class KempDecoderOptions(StrictModel):
    layers: int = 1
    """``--hop 1``."""
    heads: int = 2
    ffn_dim: int = 50
    """``--filter 50``."""
    attention_dim: Optional[int] = None
    """Width the self- and cross-attention project queries, keys and values to (the authors'
    ``total_key_depth``/``total_value_depth`` = ``--depth``; the system passes its
    ``model.attention_dim``, 40); ``None``: ``d_model``."""
    feed_forward: Literal["linear", "conv"] = "linear"
    """``linear``, or ``conv``: the authors' two causal convolutions of kernel 3 with a ReLU
    after each (the system passes its ``model.feed_forward``)."""
    dropout: float = 0.0
    """The authors' decoder layers are built without dropout."""
    emotion_cross_attention: bool = True
    """Fuse the emotion context into the cross-attention (off: KEMP w/o EDD)."""
    copy_from_graph: bool = True
    """Copy words from the graph (``--pointer_gen``)."""
    tie_output: bool = False
    """Output projection tied to the word embeddings (``--weight_sharing``; off in KEMP's command)."""


class EmotionalCrossAttention(nn.Module):
    """Multi-head attention over the graph whose output is fused with the emotion context."""

    def __init__(self, d_model: int, heads: int, fuse_emotion: bool, attention_dim: Optional[int] = None) -> None:
        super().__init__()
        width = attention_width(d_model, heads, attention_dim)
        self.heads = heads
        self.scale = (width // heads) ** -0.5
        self.query = nn.Linear(d_model, width, bias=False)
        self.key = nn.Linear(d_model, width, bias=False)
        self.value = nn.Linear(d_model, width, bias=False)
        self.out = nn.Linear(width, d_model, bias=False)
        self.fuse = nn.Linear(2 * d_model, d_model, bias=False) if fuse_emotion else None

    def keys_values(self, memory: Tensor) -> KeyValue:
        return split_heads(self.key(memory), self.heads), split_heads(self.value(memory), self.heads)

    def forward(self, x: Tensor, cross: KeyValue, memory_mask: Tensor,
                emotion: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        """``x`` [N, T, D] -> (output [N, T, D], attention over the memory [N, T, S])."""
        q = split_heads(self.query(x), self.heads) * self.scale
        scores = (q @ cross[0].transpose(-1, -2)).masked_fill(~memory_mask[:, None, None, :], float("-inf"))
        out = self.out(merge_heads(torch.softmax(scores, dim=-1) @ cross[1]))
        if self.fuse is not None:
            if emotion is None:
                raise ValueError("kemp.decoder with emotion_cross_attention needs memory.extras['emotion_context']")
            out = self.fuse(torch.cat([out, emotion[:, None, :].expand(-1, x.size(1), -1).to(out.dtype)], dim=-1))
        # the authors' attention distribution: softmax of the head-averaged scores
        return out, torch.softmax(scores.float().mean(1), dim=-1)


class KempDecoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, ffn_dim: int, dropout: float, fuse_emotion: bool,
                 attention_dim: Optional[int] = None, feed_forward: str = "linear") -> None:
        super().__init__()
        width = attention_width(d_model, heads, attention_dim)
        self.heads = heads
        self.norm_self = nn.LayerNorm(d_model)
        self.self_qkv = nn.Linear(d_model, 3 * width, bias=False)
        self.self_out = nn.Linear(width, d_model, bias=False)
        self.norm_cross = nn.LayerNorm(d_model)
        self.cross = EmotionalCrossAttention(d_model, heads, fuse_emotion, attention_dim)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.ffn = decoder_feed_forward(d_model, ffn_dim, dropout, feed_forward)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, past: Optional[LayerCache], cross: KeyValue, memory_mask: Tensor,
                emotion: Optional[Tensor]) -> tuple[Tensor, LayerCache, Tensor]:
        """Teacher forcing (``past`` None: causal over ``x``) or one new position per row
        (``past``: the earlier positions' cache). Returns the output, the extended cache and
        the cross-attention distribution."""
        q, k, v = self.self_qkv(self.norm_self(x)).chunk(3, dim=-1)
        q, k, v = (split_heads(t, self.heads) for t in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        h = F.scaled_dot_product_attention(q, k, v, is_causal=past is None and x.size(1) > 1)
        x = x + self.dropout(self.self_out(merge_heads(h)))
        y, attention = self.cross(self.norm_cross(x), cross, memory_mask, emotion)
        x = x + self.dropout(y)
        h, history = run_feed_forward(self.ffn, self.norm_ffn(x), () if past is None else past[2:])
        return x + self.dropout(h), (k, v, *history), attention


class KempDecoder(Decoder):
    Options = KempDecoderOptions

    def __init__(self, options: KempDecoderOptions, *, d_model: int, embedding: nn.Module, bos_id: int,
                 eos_id: int, pad_id: int) -> None:
        super().__init__(options)
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.embedding = embedding  # the shared DialogueEmbedding (word table, positions)
        o = options
        self.layers = nn.ModuleList(KempDecoderLayer(d_model, o.heads, o.ffn_dim, o.dropout, o.emotion_cross_attention,
                                                     o.attention_dim, o.feed_forward)
                                    for _ in range(o.layers))
        self.norm = nn.LayerNorm(d_model)
        vocab_size = embedding.word.num_embeddings
        self.output = nn.Linear(d_model, vocab_size)
        if o.tie_output:
            self.output.weight = embedding.word.weight
        self.gate = nn.Linear(d_model, 1) if o.copy_from_graph else None

    # -- pieces ----------------------------------------------------------------------------
    def _inputs(self, ids: Tensor, memory: EncoderOutput, offset: int) -> Tensor:
        emb = self.embedding
        x = emb.word(ids) * emb.scale
        start = memory.extras.get(EMOTION_START)
        if start is not None and offset == 0:  # the emotion signal replaces [BOS]
            x = torch.cat([start[:, None, :].to(x.dtype), x[:, 1:]], dim=1)
        return emb.dropout(x + emb.positions[offset : offset + ids.size(1)])

    def _emotion(self, memory: EncoderOutput) -> Optional[Tensor]:
        return memory.extras.get(EMOTION_CONTEXT) if self.options.emotion_cross_attention else None

    def _log_probs(self, hidden: Tensor, attention: Tensor, source_ids: Optional[Tensor]) -> Tensor:
        logits = self.output(hidden).float()
        if self.gate is None:
            return torch.log_softmax(logits, dim=-1)
        if source_ids is None:
            raise ValueError("kemp.decoder with copy_from_graph needs memory.extras['source_ids']")
        g = torch.sigmoid(self.gate(hidden).float())
        copied = (1 - g) * attention
        mixed = (g * torch.softmax(logits, dim=-1)).scatter_add(
            -1, source_ids[:, None, :].expand(-1, hidden.size(1), -1), copied)
        return torch.log(mixed.clamp_min(1e-12))

    # -- teacher forcing ------------------------------------------------------------------
    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        x = self._inputs(input_ids, memory, 0)
        emotion = self._emotion(memory)
        attention = None
        for layer in self.layers:
            x, _, attention = layer(x, None, layer.cross.keys_values(memory.hidden), memory.mask, emotion)
        hidden = self.norm(x)
        log_probs = self._log_probs(hidden, attention, memory.extras.get(SOURCE_IDS))
        return DecoderOutput(log_probs, hidden, is_log_probs=True, extras={ATTENTION: attention})

    # -- incremental decoding -------------------------------------------------------------
    def start(self, memory: EncoderOutput) -> dict[str, Any]:
        return {
            "memory": memory,
            "cross": [layer.cross.keys_values(memory.hidden) for layer in self.layers],
            "past": [None] * len(self.layers),
            "position": 0,
            "hidden": None,
        }

    def step(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        memory = state["memory"]
        x = self._inputs(tokens[:, None], memory, state["position"])
        emotion = self._emotion(memory)
        attention = None
        for i, layer in enumerate(self.layers):
            x, state["past"][i], attention = layer(x, state["past"][i], state["cross"][i], memory.mask, emotion)
        hidden = self.norm(x)
        state["position"] += 1
        state["hidden"] = hidden[:, 0]
        return self._log_probs(hidden, attention, memory.extras.get(SOURCE_IDS))[:, 0].clone(), state

    def reorder(self, state: dict[str, Any], index: Tensor) -> dict[str, Any]:
        state["memory"] = state["memory"].index_select(index)
        state["cross"] = [(k.index_select(0, index), v.index_select(0, index)) for k, v in state["cross"]]
        state["past"] = [None if cache is None else tuple(t.index_select(0, index) for t in cache)
                         for cache in state["past"]]
        if state["hidden"] is not None:
            state["hidden"] = state["hidden"].index_select(0, index)
        return state

    def last_hidden(self, state: dict[str, Any]) -> Optional[Tensor]:
        return state["hidden"]
