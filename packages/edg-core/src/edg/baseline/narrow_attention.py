"""Multi-head attention whose queries, keys and values are projected to a width of their own
(``attention_dim``) rather than to the model width: the ``total_key_depth`` /
``total_value_depth`` of the MoEL-family code (``--depth 40`` with 300-d states), whose
layers are 4-8 times smaller than ``nn.MultiheadAttention``'s at the same model width.

It stands in for the ``self_attn`` / ``multihead_attn`` of a core
``nn.TransformerDecoderLayer`` or ``nn.TransformerEncoderLayer`` (:func:`narrow_layer`): it
takes their call and exposes ``in_proj_weight`` [3a, D], ``out_proj`` (a -> D), ``num_heads``
and ``embed_dim`` (= a) as they are read by :mod:`edg.baseline.layer_step`, so incremental
decoding works unchanged. No biases, as in the authors' ``MultiHeadAttention``.
"""

from __future__ import annotations

import math
from typing import Optional, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.baseline.layer_step import merge_heads, split_heads

Layer = TypeVar("Layer", nn.TransformerDecoderLayer, nn.TransformerEncoderLayer)


class NarrowMultiheadAttention(nn.Module):
    # read by torch's Transformer layers to decide on their fused fast path, which this
    # module must never take (it assumes projections at the model width)
    batch_first = True
    _qkv_same_embed_dim = False

    def __init__(self, d_model: int, heads: int, attention_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        attention_width(d_model, heads, attention_dim)
        self.embed_dim, self.num_heads, self.dropout = attention_dim, heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * attention_dim, d_model))
        self.in_proj_bias = None
        self.out_proj = nn.Linear(attention_dim, d_model, bias=False)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor] = None,
                need_weights: bool = False, attn_mask: Optional[Tensor] = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, None]:
        if need_weights:
            raise ValueError("NarrowMultiheadAttention does not return attention weights")
        wq, wk, wv = self.in_proj_weight.chunk(3)
        q = split_heads(F.linear(query, wq), self.num_heads)
        k = split_heads(F.linear(key, wk), self.num_heads)
        v = split_heads(F.linear(value, wv), self.num_heads)
        if attn_mask is None and is_causal:
            attn_mask = torch.ones(q.size(2), k.size(2), dtype=torch.bool, device=q.device).triu(1)
        bias = None
        if attn_mask is not None:
            bias = additive(attn_mask, q.dtype)
        if key_padding_mask is not None:
            pad = additive(key_padding_mask, q.dtype)[:, None, None, :]
            bias = pad if bias is None else bias + pad
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(merge_heads(out)), None


def attention_width(d_model: int, heads: int, attention_dim: Optional[int]) -> int:
    """The width queries, keys and values are projected to: ``attention_dim``, or the model
    width when it is ``None``; it must split evenly into ``heads``."""
    width = d_model if attention_dim is None else attention_dim
    if width % heads:
        raise ValueError(f"attention width {width} is not divisible by heads {heads}")
    return width


def additive(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """A torch attention mask as an additive bias: boolean masks are True where attention is
    not allowed; float masks (torch's layers convert to them) already are biases."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, -math.inf)
    return mask.to(dtype)


def narrow_layer(layer: Layer, attention_dim: Optional[int]) -> Layer:
    """``layer`` with its attention blocks replaced by :class:`NarrowMultiheadAttention` of
    width ``attention_dim`` (``None``: unchanged)."""
    if attention_dim is None:
        return layer
    for name in ("self_attn", "multihead_attn"):
        attn = getattr(layer, name, None)
        if attn is not None:
            setattr(layer, name, NarrowMultiheadAttention(attn.embed_dim, attn.num_heads, attention_dim,
                                                          attn.dropout))
    return layer
