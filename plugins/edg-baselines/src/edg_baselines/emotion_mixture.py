"""MIME's emotion groups and stochastic emotion mixture (Majumder et al., 2020; the authors'
``VAESampling``).

The 32 ED emotions are split by polarity into a positive group (13) and a negative group
(19; MIME counts *anticipating* as negative). For each group, a latent ``z`` is drawn from a
Gaussian whose mean and log-variance come from the context state ``c`` (the "prior" network);
``softmax(D_g z)`` weights the group's emotion embeddings into one emotion vector per group.
During training ``z`` is sampled (reparameterised) and a posterior network, which also sees the
emotion-aware context of that group, is pulled towards the prior by a KL term; at inference
``z`` is the prior mean (deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.data import EMOTIONS

#: MIME's positive emotions (indices in edg's EMOTIONS order = MoEL's emo_map)
POSITIVE_EMOTIONS: tuple[str, ...] = (
    "confident", "joyful", "grateful", "impressed", "proud", "excited", "trusting", "hopeful", "faithful",
    "prepared", "content", "surprised", "caring",
)
NEGATIVE_EMOTIONS: tuple[str, ...] = tuple(e for e in EMOTIONS if e not in POSITIVE_EMOTIONS)


def group_indices(names: tuple[str, ...]) -> list[int]:
    return [EMOTIONS.index(n) for n in names]


def is_positive(emotion_ids: Tensor) -> Tensor:
    """[B] bool: whether each emotion id is in the positive group."""
    positive = torch.tensor(group_indices(POSITIVE_EMOTIONS), device=emotion_ids.device)
    return (emotion_ids[:, None] == positive[None, :]).any(-1)


@dataclass
class GroupSample:
    """One group's emotion vector and the Gaussian it was drawn from."""

    vector: Tensor
    """[B, E] the mixture of the group's emotion embeddings."""
    weights: Tensor
    """[B, |group|] the mixture weights."""
    mu: Tensor
    logvar: Tensor


def gaussian_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, exp(logvar_q)) || N(mu_p, exp(logvar_p))) per row, summed over dimensions."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1).sum(-1)


class GroupLatent(nn.Module):
    """``h -> (mu, logvar)`` of one group's latent."""

    def __init__(self, hidden: int, latent: int) -> None:
        super().__init__()
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        return self.mu(h), self.logvar(h)


class StochasticEmotionMixture(nn.Module):
    """Per group: prior ``(mu, logvar) = f_g(relu(W c))``, latent ``z``, weights
    ``softmax(D_g z)``, vector ``weights @ E[group]``; posterior ``f'_g(relu(W'_g [c; m_g]))``."""

    def __init__(self, d_model: int, latent: int, groups: list[list[int]], *, stochastic: bool = True) -> None:
        super().__init__()
        self.groups = groups
        self.stochastic = stochastic
        self.prior_hidden = nn.Linear(d_model, d_model)
        self.prior = nn.ModuleList([GroupLatent(d_model, latent) for _ in groups])
        self.to_weights = nn.ModuleList([nn.Linear(latent, len(g)) for g in groups])
        if stochastic:
            self.posterior_hidden = nn.ModuleList([nn.Linear(2 * d_model, d_model) for _ in groups])
            self.posterior = nn.ModuleList([GroupLatent(d_model, latent) for _ in groups])
        for i, g in enumerate(groups):
            self.register_buffer(f"group_{i}", torch.tensor(g, dtype=torch.long), persistent=False)

    def members(self, i: int) -> Tensor:
        return getattr(self, f"group_{i}")

    def forward(self, context: Tensor, emotion_table: Tensor) -> list[GroupSample]:
        """One sample per group from the prior; ``context`` [B, D], ``emotion_table`` [32, E]."""
        h = F.relu(self.prior_hidden(context))
        out = []
        for i, prior in enumerate(self.prior):
            mu, logvar = prior(h)
            if self.stochastic and self.training:
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            else:
                z = mu
            weights = torch.softmax(self.to_weights[i](z), dim=-1)
            out.append(GroupSample(weights @ emotion_table[self.members(i)], weights, mu, logvar))
        return out

    def kl(self, context: Tensor, group_contexts: list[Tensor], samples: list[GroupSample]) -> Optional[Tensor]:
        """Mean over the batch of the summed KL(posterior || prior) of the groups; ``group_contexts``
        [B, D] per group (the mean emotion-aware context state). ``None`` when not stochastic."""
        if not self.stochastic:
            return None
        total = context.new_zeros(context.size(0))
        for i, sample in enumerate(samples):
            h = F.relu(self.posterior_hidden[i](torch.cat([context, group_contexts[i]], -1)))
            mu_q, logvar_q = self.posterior[i](h)
            total = total + gaussian_kl(mu_q, logvar_q, sample.mu, sample.logvar)
        return total.mean()
