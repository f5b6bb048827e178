"""Dialogue reaction (§3.2.1, eq. 6–9): three binary heads on h_c, one per communication
mechanism (Emotional Reaction, Interpretation, Exploration), and the mechanism signal
ê_cm = Σ_i P̂_cmi · e_cmi.

Eq. 6 writes e_cmi both as the head's logits and (eq. 9, 17) as a d-dimensional signal
concatenated to d-wide token states; here e_cmi is a learned d-dimensional embedding of
each degree ("no", "yes") of mechanism i, weighted by the head's predicted degree
distribution P̂_cmi (eq. 7) — the soft-embedding form MoEL/CEM use for emotion signals."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from edg_imagine.epitome import MECHANISMS


class CommunicationHeads(nn.Module):
    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.heads = nn.ModuleDict({m: nn.Linear(d_model, 2) for m in MECHANISMS})  # W_cmi, b_cmi
        self.degrees = nn.ModuleDict({m: nn.Embedding(2, d_model) for m in MECHANISMS})  # e_cmi per degree

    def forward(self, summary: Tensor) -> tuple[Tensor, Tensor]:
        """h_c [B, d] -> (logits [B, 3, 2] in the order er, ip, ex; ê_cm [B, d])."""
        logits = torch.stack([self.heads[m](summary) for m in MECHANISMS], 1)
        probabilities = torch.softmax(logits.float(), -1).to(summary.dtype)  # P̂_cmi, eq. 7
        signal = sum(probabilities[:, i] @ self.degrees[m].weight for i, m in enumerate(MECHANISMS))  # eq. 9
        return logits, signal
