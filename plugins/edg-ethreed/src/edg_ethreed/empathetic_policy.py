"""The stochastic empathetic policy of §3.3 (eq. 8–11): sta_t = tanh(W P_e_t + b), a mean
and a log-variance head, and a reparameterised sample R̂_e_t ~ N(μ̂, exp(log σ̂²))."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn


class EmpatheticPolicy(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.state = nn.Linear(dim, dim)  # FFN_S (eq. 8, 11)
        self.mean = nn.Linear(dim, dim)  # eq. 9
        self.log_variance = nn.Linear(dim, dim)  # eq. 10

    def forward(self, speaker_emotion: Tensor, noise: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor]:
        """P_e_t [N, D] -> (R̂_e_t, μ̂, log σ̂²); ``noise`` ε ~ N(0, I) (drawn when ``None``)."""
        sta = torch.tanh(self.state(speaker_emotion))
        mu, log_var = self.mean(sta), self.log_variance(sta)
        if noise is None:
            noise = torch.randn_like(mu)
        return mu + torch.exp(0.5 * log_var) * noise, mu, log_var
