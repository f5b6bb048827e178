"""The core's encoder stack and decoder layer shapes, one pre-norm
:class:`torch.nn.TransformerDecoderLayer` fed one token at a time over a key/value cache, and the head-splitting helpers every incremental attention uses (the core's
``transformer`` decoder, CTSM's pointer-generator, MoEL's parallel listeners, MIME).

A layer's cache is its self-attention keys and values, ``(k, v)``, followed for a layer with
the convolutional feed-forward (:mod:`edg.baseline.conv_feed_forward`) by the previous
inputs of its two convolutions, ``(k, v, first, second)``.

Teacher forcing runs the layers themselves; :func:`memory_keys_values` and :func:`step_layer`
give the same numbers position by position (tested against the full pass).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.baseline.conv_feed_forward import ConvEncoderLayer, check_feed_forward, conv_feed_forward, step_feed_forward

KeyValue = tuple[Tensor, Tensor]
#: one decoder layer's cache: ``(k, v)``, or ``(k, v, first, second)`` with a convolutional feed-forward
LayerCache = tuple[Tensor, ...]


def split_heads(x: Tensor, heads: int) -> Tensor:
    n, t, d = x.shape
    return x.view(n, t, heads, d // heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    n, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(n, t, h * dh)


def in_projection(attn: nn.MultiheadAttention, part: int) -> tuple[Tensor, Optional[Tensor]]:
    """Weight and bias of the query (0), key (1) or value (2) projection of ``attn``."""
    d = attn.embed_dim
    bias = None if attn.in_proj_bias is None else attn.in_proj_bias[part * d : (part + 1) * d]
    return attn.in_proj_weight[part * d : (part + 1) * d], bias


def memory_keys_values(layer: nn.TransformerDecoderLayer, memory: Tensor) -> KeyValue:
    """The cross-attention keys and values of ``memory`` [N, L, D] for ``layer``, [N, H, L, D/H]."""
    attn = layer.multihead_attn
    keys = split_heads(F.linear(memory, *in_projection(attn, 1)), attn.num_heads)
    values = split_heads(F.linear(memory, *in_projection(attn, 2)), attn.num_heads)
    return keys, values


def step_layer(layer: nn.TransformerDecoderLayer, x: Tensor, past: Optional[LayerCache], cross: KeyValue,
               memory_mask: Tensor) -> tuple[Tensor, LayerCache]:
    """Feed the states ``x`` [N, 1, D] of one new position through a pre-norm decoder layer.

    ``past``: the layer's cache after the earlier positions (``None`` at the first);
    ``cross``: :func:`memory_keys_values`; ``memory_mask`` [N, 1, 1, L] True on real memory
    tokens. Returns the layer's output [N, 1, D] and the extended cache.
    """
    if not layer.norm_first:
        raise ValueError("step_layer supports pre-norm layers only (norm_first=True)")
    attn = layer.self_attn
    q, k, v = F.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    k, v = split_heads(k, attn.num_heads), split_heads(v, attn.num_heads)
    if past is not None:
        k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
    h = F.scaled_dot_product_attention(split_heads(q, attn.num_heads), k, v)
    x = x + layer.dropout1(attn.out_proj(merge_heads(h)))

    attn = layer.multihead_attn
    q = split_heads(F.linear(layer.norm2(x), *in_projection(attn, 0)), attn.num_heads)
    h = F.scaled_dot_product_attention(q, cross[0], cross[1], attn_mask=memory_mask)
    x = x + layer.dropout2(attn.out_proj(merge_heads(h)))

    h, history = step_feed_forward(layer, layer.norm3(x), () if past is None else past[2:])
    return x + layer.dropout3(h), (k, v, *history)


def select_rows(cache: list[tuple[Tensor, ...]], index: Tensor) -> list[tuple[Tensor, ...]]:
    """Every tensor of every entry of ``cache`` at the rows ``index`` (beam reordering)."""
    return [tuple(t.index_select(0, index) for t in entry) for entry in cache]


def causal_mask(length: int, device: torch.device) -> Tensor:
    """True above the diagonal: position t does not attend to later positions."""
    return torch.triu(torch.ones(length, length, dtype=torch.bool, device=device), diagonal=1)


def transformer_encoder(d_model: int, layers: int, heads: int, ffn_dim: int, dropout: float,
                        attention_dim: Optional[int] = None, feed_forward: str = "linear") -> nn.TransformerEncoder:
    """The core's encoder shape: ``layers`` pre-norm, batch-first layers with a ReLU
    feed-forward (``feed_forward: conv``: the MoEL family's convolutions,
    :mod:`edg.baseline.conv_feed_forward`) and a final LayerNorm; attention projected to
    ``attention_dim`` when given (:mod:`edg.baseline.narrow_attention`)."""
    from edg.baseline.narrow_attention import narrow_layer

    check_feed_forward(feed_forward)
    if feed_forward == "conv":
        layer = ConvEncoderLayer(d_model, heads, ffn_dim, dropout)
    else:
        layer = nn.TransformerEncoderLayer(d_model, heads, ffn_dim, dropout, batch_first=True, norm_first=True)
    return nn.TransformerEncoder(narrow_layer(layer, attention_dim), layers, norm=nn.LayerNorm(d_model),
                                 enable_nested_tensor=False)


def decoder_layer(d_model: int, heads: int, ffn_dim: int, dropout: float,
                  attention_dim: Optional[int] = None, feed_forward: str = "linear") -> nn.TransformerDecoderLayer:
    """The core's decoder layer shape: pre-norm, batch-first, ReLU feed-forward (``conv``: the
    MoEL family's causal convolutions); attention projected to ``attention_dim`` when given
    (:mod:`edg.baseline.narrow_attention`)."""
    from edg.baseline.narrow_attention import narrow_layer

    check_feed_forward(feed_forward)
    layer = nn.TransformerDecoderLayer(d_model, heads, ffn_dim, dropout, batch_first=True, norm_first=True)
    if feed_forward == "conv":
        layer = conv_feed_forward(layer)
    return narrow_layer(layer, attention_dim)
