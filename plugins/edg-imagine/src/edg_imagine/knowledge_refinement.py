"""Knowledge refinement (§3.2.2, eq. 13–17): each group summary h_K concatenated to every
token of H_C (U_K = H_C ⊕ h_K, [L, 2d]), one Refine-Encoder per token sequence
(H_K^ref = Refine-Encoder(U_K), [L, d]), the cognitive refinements joined with the Affect
refinement (H̃_K = H_K^ref ⊕ H_Affect^ref, eq. 15), gated by their own sigmoid and passed
through an MLP with ReLU (Ĥ_K = MLP(σ(H̃_K) · H̃_K), eq. 16; CEM's two bias-free layers
2d → 2d → d), and Ĥ_C = Ĥ_Behav ⊕ Ĥ_Phys ⊕ Ĥ_Events ⊕ ê_cm (eq. 17, [L, 4d]).

Without knowledge (``wo-know``) Ĥ_C is H_C ⊕ ê_cm; without the mechanisms (``wo-cm``) the
ê_cm part is left out."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from edg_imagine.knowledge_encoder import AFFECT, COGNITIVE
from edg_imagine.sequence_encoder import SequenceEncoder


class GatedMlp(nn.Module):
    """Eq. 16: MLP(σ(x) · x), the MLP Linear(2d, 2d) → ReLU → Linear(2d, d), no biases (CEM)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(2 * d_model, 2 * d_model, bias=False)
        self.out = nn.Linear(2 * d_model, d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(torch.relu(self.hidden(torch.sigmoid(x) * x)))


class KnowledgeRefinement(nn.Module):
    def __init__(self, d_model: int, refine_encoder: SequenceEncoder) -> None:
        super().__init__()
        self.refine_encoder = refine_encoder
        self.gate = GatedMlp(d_model)

    def forward(self, causes: Tensor, mask: Tensor, summaries: dict[str, Tensor]) -> list[Tensor]:
        """H_C [B, L, d], its mask and h_K per group -> [Ĥ_Behav, Ĥ_Phys, Ĥ_Events], each [B, L, d]."""
        refined = {}
        for group, summary in summaries.items():
            fused = torch.cat([causes, summary[:, None].expand_as(causes)], -1)  # eq. 13
            refined[group] = self.refine_encoder(fused, mask)  # eq. 14
        return [self.gate(torch.cat([refined[g], refined[AFFECT]], -1)) for g in COGNITIVE]  # eq. 15, 16


def fused_memory(parts: list[Tensor], mechanism_signal: Optional[Tensor]) -> Tensor:
    """Eq. 17: the token-level concatenation of ``parts`` [B, L, d] and ê_cm [B, d] on every token."""
    if mechanism_signal is not None:
        parts = [*parts, mechanism_signal[:, None].expand_as(parts[0])]
    return torch.cat(parts, -1)
