"""LossTerm ``ctsm.cross_contrastive``: CTSM's cross-contrastive learning (§3.6.2, eq. 22–24).

Four representations of every dialogue in the batch (computed by the model, each pooled
over its tokens and mapped by its own linear projection head to a shared width; see
``CtsmModel``):

* ``context``   — the student inference-enriched context ``H_C^stu``;
* ``response``  — ``H_Y = Encoder_Y(E_Y)``, the encoded target response;
* ``emotion``   — ``H_ts = H_t ⊕ H_s``, trait and state emotion representations;
* ``generated`` — the generated response ``P_w``, as its expected word embedding
  ``Σ_w P_w(w)·E(w)`` at each target position.

The five positive pairs of eq. 22 are ``(H_Y, H_ts), (H_C^stu, P_w), (H_C^stu, H_Y),
(H_ts, P_w), (H_Y, P_w)``; ``(H_C^stu, H_ts)`` is deliberately not one. For a pair
``(h_p, h_q)`` and dialogue ``i``, the negatives are ``(h_p^i, h_q^k)`` for the other
dialogues ``k ≠ i`` of the batch, and (eq. 23)

    L_cl(h_p, h_q) = −log exp(sim(h_p^i, h_q^i)/τ) / Σ_k exp(sim(h_p^i, h_q^k)/τ)

with ``sim`` the dot product and τ = 0.07, averaged over the batch; ``L_ccl`` is the mean
over the five pairs (eq. 24). The denominator includes the positive (the usual InfoNCE;
``include_positive: false`` sums the negatives only, the literal reading of eq. 23).
``normalize: true`` (default) L2-normalises the projections first, so the dot product is
bounded as τ = 0.07 presumes (SimCLR); ``false`` is the raw dot product.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput

#: eq. 22, in the paper's order; (context, emotion) is excluded on purpose
POSITIVE_PAIRS: tuple[tuple[str, str], ...] = (
    ("response", "emotion"),
    ("context", "generated"),
    ("context", "response"),
    ("emotion", "generated"),
    ("response", "generated"),
)


def info_nce(h_p: Tensor, h_q: Tensor, temperature: float = 0.07, *, normalize: bool = False,
             include_positive: bool = True) -> Tensor:
    """Eq. 23 averaged over the batch: row ``i`` of ``h_p`` [B, D] against all rows of ``h_q``."""
    h_p, h_q = h_p.float(), h_q.float()
    if normalize:
        h_p, h_q = F.normalize(h_p, dim=-1), F.normalize(h_q, dim=-1)
    scores = h_p @ h_q.t() / temperature
    target = torch.arange(scores.size(0), device=scores.device)
    if include_positive:
        return F.cross_entropy(scores, target)
    positive = scores.diagonal()
    if scores.size(0) == 1:
        return torch.zeros((), device=scores.device)  # no negatives
    negatives = scores.masked_fill(torch.eye(scores.size(0), dtype=torch.bool, device=scores.device),
                                   float("-inf"))
    return (torch.logsumexp(negatives, dim=-1) - positive).mean()


def cross_contrastive(representations: Mapping[str, Tensor], pairs: Sequence[Sequence[str]] = POSITIVE_PAIRS,
                      temperature: float = 0.07, *, normalize: bool = False,
                      include_positive: bool = True) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 24: the mean of :func:`info_nce` over ``pairs`` and each pair's value."""
    per_pair = {}
    for p, q in pairs:
        if p not in representations or q not in representations:
            raise ValueError(f"cross-contrastive pair ({p}, {q}) needs the representations {p!r} and {q!r} "
                             f"(have: {', '.join(sorted(representations))})")
        per_pair[f"{p}~{q}"] = info_nce(representations[p], representations[q], temperature,
                                        normalize=normalize, include_positive=include_positive)
    return torch.stack(list(per_pair.values())).mean(), per_pair


class CrossContrastiveOptions(StrictModel):
    temperature: float = 0.07
    normalize: bool = True
    include_positive: bool = True
    pairs: list[tuple[str, str]] = [tuple(p) for p in POSITIVE_PAIRS]


class CrossContrastiveLoss(LossTerm):
    Options = CrossContrastiveOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        reps = outputs.extras.get("ccl")
        if reps is None:
            raise ValueError("loss 'ctsm.cross_contrastive' needs CTSM's cross-contrastive heads "
                             "(model.use_ccl: true)")
        o = self.options
        loss, per_pair = cross_contrastive(reps, o.pairs, o.temperature, normalize=o.normalize,
                                           include_positive=o.include_positive)
        return LossValue(loss, {f"ccl[{k}]": float(v.detach()) for k, v in per_pair.items()})
