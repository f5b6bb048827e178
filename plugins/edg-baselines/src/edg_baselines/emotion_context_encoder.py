"""MIME's emotion-aware context encoder (the authors' ``EmotionInputEncoder``, ``self_att``
mode): each context state is concatenated with an emotion vector, projected back to the model
width, given sinusoidal positions and re-encoded by a Transformer encoder (attention projected to
``attention_dim`` when given, the authors' ``--depth``). MIME builds two:
one for the mimicking emotion (``m``), one for the non-mimicking emotion (``m~``)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from edg.baseline.dialogue_embedding import sinusoidal_positions
from edg.baseline.layer_step import transformer_encoder


class EmotionContextEncoder(nn.Module):
    def __init__(self, d_model: int, emotion_dim: int, *, layers: int, heads: int, ffn_dim: int, dropout: float,
                 max_len: int = 1024, attention_dim: Optional[int] = None, feed_forward: str = "linear") -> None:
        super().__init__()
        self.project = nn.Linear(d_model + emotion_dim, d_model, bias=False)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        self.encoder = transformer_encoder(d_model, layers, heads, ffn_dim, dropout, attention_dim, feed_forward)

    def forward(self, hidden: Tensor, mask: Tensor, emotion: Tensor) -> Tensor:
        """``hidden`` [B, L, D], ``mask`` [B, L] True on tokens, ``emotion`` [B, E] -> [B, L, D]."""
        x = self.project(torch.cat([hidden, emotion[:, None, :].expand(-1, hidden.size(1), -1).to(hidden.dtype)], -1))
        x = x + self.positions[: hidden.size(1)]
        return self.encoder(x, src_key_padding_mask=~mask)
