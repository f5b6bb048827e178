"""Masked attention weights shared by CTSM's components. Its Transformer encoder block and
masked mean are CEM's (``edg_baselines.cem_encoder``: CTSM builds on CEM's code)."""

from __future__ import annotations

import torch
from torch import Tensor


def masked_softmax(scores: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax of ``scores`` with masked-out positions at probability 0."""
    scores = scores.masked_fill(~mask, float("-inf"))
    out = torch.softmax(scores, dim=dim)
    return torch.nan_to_num(out, nan=0.0)
