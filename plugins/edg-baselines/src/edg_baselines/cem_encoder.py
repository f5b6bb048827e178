"""CEM's Transformer encoder block (``Encoder`` in ``Sahandfer/CEM src/models/CEM/model.py``),
used by CEM's model and by its refinement module ``cem.refinement``.

As CEM's ``Encoder``: a bias-free projection of the input to the hidden size (only when the
widths differ: the refine encoders read the ``2d`` concatenation of context and knowledge),
an optional sinusoidal timing signal, the layers and a final LayerNorm. The layers are
PyTorch's pre-norm ``nn.TransformerEncoderLayer`` (a linear feed-forward; attention projected to
``attention_dim``, CEM's ``--depth``, by the core's ``NarrowMultiheadAttention`` when given, else
at the full hidden width), see ``docs/plugins/cem.md``. ``mask`` is True on real tokens (the
core's convention).
"""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

# the core's sinusoid table (not in edg.api); the same table the dialogue embedding adds
from edg.baseline.dialogue_embedding import sinusoidal_positions
from edg.baseline.layer_step import transformer_encoder


class CemEncoder(nn.Module):
    def __init__(self, input_dim: int, d_model: int, *, layers: int, heads: int, ffn_dim: int,
                 dropout: float, positions: bool = True, max_len: int = 1024,
                 attention_dim: Optional[int] = None, feed_forward: str = "linear") -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"hidden size {d_model} is not divisible by {heads} attention heads")
        self.proj = nn.Linear(input_dim, d_model, bias=False) if input_dim != d_model else nn.Identity()
        self.layers = transformer_encoder(d_model, layers, heads, ffn_dim, dropout, attention_dim, feed_forward)
        self.use_positions = positions
        if positions:
            self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x`` [B, L, input_dim], ``mask`` [B, L] -> [B, L, d_model]."""
        x = self.proj(x)
        if self.use_positions:
            if x.size(1) > self.positions.size(0):
                raise ValueError(f"sequence of {x.size(1)} tokens exceeds max_len {self.positions.size(0)}")
            x = x + self.positions[: x.size(1)].to(x.dtype)
        return self.layers(x, src_key_padding_mask=~mask)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` [..., L, D] over the positions where ``mask`` [..., L] is True (0 if none)."""
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(-2) / m.sum(-2).clamp(min=1.0)
