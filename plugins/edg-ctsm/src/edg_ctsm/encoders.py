"""Transformer encoder blocks shared by CTSM's components.

:class:`SeqEncoder` follows the ``Encoder`` of MoEL/CEM (whose code CTSM builds on): an
optional bias-free input projection to the hidden size, an optional sinusoidal timing
signal, pre-norm Transformer layers and a final LayerNorm. ``mask`` is True on real tokens
(the core's convention).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from edg.baseline.dialogue_embedding import sinusoidal_positions


class SeqEncoder(nn.Module):
    def __init__(self, input_dim: int, d_model: int, *, layers: int, heads: int, ffn_dim: int,
                 dropout: float, positions: bool = True, max_len: int = 1024) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"hidden size {d_model} is not divisible by {heads} attention heads")
        self.proj = nn.Linear(input_dim, d_model, bias=False) if input_dim != d_model else nn.Identity()
        layer = nn.TransformerEncoderLayer(d_model, heads, ffn_dim, dropout, batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.use_positions = positions
        if positions:
            self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = self.proj(x)
        if self.use_positions:
            x = x + self.positions[: x.size(1)].to(x.dtype)
        return self.layers(x, src_key_padding_mask=~mask)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` [B, L, D] over the positions where ``mask`` [B, L] is True (0 if none)."""
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


def masked_softmax(scores: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax of ``scores`` with masked-out positions at probability 0."""
    scores = scores.masked_fill(~mask, float("-inf"))
    out = torch.softmax(scores, dim=dim)
    return torch.nan_to_num(out, nan=0.0)
