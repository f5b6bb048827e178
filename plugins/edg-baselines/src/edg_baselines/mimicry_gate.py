"""MIME's combination of the mimicking and non-mimicking emotion-aware contexts (the authors'
``ComplexResGate``, ``--emo_combine gate``): ``v = W_2 (sigmoid(W_1 [m; m~]) * [m; m~])``."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MimicryGate(nn.Module):
    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * d_model, 2 * d_model)
        self.out = nn.Linear(2 * d_model, d_model)

    def forward(self, mimic: Tensor, non_mimic: Tensor) -> Tensor:
        both = torch.cat([mimic, non_mimic], -1)
        return self.out(torch.sigmoid(self.gate(both)) * both)
