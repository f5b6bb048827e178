"""The Transformer encoder every IMAGINE encoder is an instance of (emotion perception,
cause, knowledge and refine encoders): pre-norm layers with a final LayerNorm, as the
core's baseline encoder; an input wider than the model (the refine encoder's 2d token-level
concatenations, eq. 13–14) is first projected to d without bias, as CEM's ``Encoder``
(``embedding_proj``) does for its refine encoders."""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from edg.baseline.layer_step import transformer_encoder


class SequenceEncoder(nn.Module):
    def __init__(self, d_model: int, *, layers: int, heads: int, ffn_dim: int, dropout: float,
                 input_dim: Optional[int] = None) -> None:
        super().__init__()
        self.input_projection = (nn.Linear(input_dim, d_model, bias=False)
                                 if input_dim is not None and input_dim != d_model else None)
        self.layers = transformer_encoder(d_model, layers, heads, ffn_dim, dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x`` [B, L, D_in], ``mask`` [B, L] True on real tokens -> [B, L, d]."""
        if self.input_projection is not None:
            x = self.input_projection(x)
        return self.layers(x, src_key_padding_mask=~mask)
