"""Reranker ``nec.similarity``: NEC's decoding objective (§3.4, eq. 13-15).

Among the beam-search results ``ŷ`` of an input, pick::

    y* = argmax  alpha * S_sim + (1 - alpha) * S_lm,    alpha = 0.7
    S_sim = cos(z_x, z_ŷ)

with the representations the contrastive loss learns (CoNT's "learned similarity", and the
NEC authors' ``generate``): ``z_x = model.features(encoder states, input mask)`` and
``z_ŷ`` the mean over ``[BOS] ŷ`` of the **projected** decoder states
(``Candidate.hidden``: the ``nec.bart`` decoder projects every incremental step's state with
``NecModel.project`` and the core's search averages them, so reranking adds no decoder pass
and ``z_ŷ`` equals ``model.features`` of the response's states).

``S_lm`` (option ``lm_score``): eq. 14 literally is the product of the token probabilities,
``prod_t P(ŷ_t | ...)`` (``product``), which for a 15-token response is ~1e-10 and leaves the
choice to ``S_sim`` alone. The default ``geometric_mean`` is the same product normalised by
length, ``exp(logprob / |ŷ|)`` (a probability in [0, 1], like ``S_sim`` bounded, and
monotone in CoNT's length-normalised log-probability); ``logprob`` uses the search's own
length-normalised log-probability ``Candidate.score`` as CoNT's released code does.
``|ŷ|`` counts the end token.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F

from edg.config import StrictModel
from edg.interfaces.reranker import Reranker
from edg.interfaces.types import Candidate, EncoderOutput


class SimilarityOptions(StrictModel):
    alpha: float = 0.7
    lm_score: Literal["geometric_mean", "product", "logprob"] = "geometric_mean"


def lm_score(candidate: Candidate, kind: str) -> float:
    if kind == "product":
        return math.exp(candidate.logprob)
    if kind == "geometric_mean":
        return math.exp(candidate.logprob / (len(candidate.token_ids) + 1))
    return float(candidate.score)


class SimilarityReranker(Reranker):
    Options = SimilarityOptions
    needs_hidden = True

    def rerank(self, candidates: list[list[Candidate]], memory: EncoderOutput, batch: dict[str, Any],
               model: Any) -> list[list[Candidate]]:
        flat = [(i, c) for i, cands in enumerate(candidates) for c in cands]
        if not flat:
            return candidates
        features = getattr(model, "features", None)
        if features is None:
            raise TypeError(f"reranker 'nec.similarity' needs a model with the contrastive projection "
                            f"(features(hidden, mask)), e.g. the nec system's; got {type(model).__name__}")
        z_x = features(memory.hidden, memory.mask).float()  # [B, D]
        hidden = torch.stack([c.hidden.float().to(z_x.device) for _, c in flat])
        rows = torch.tensor([i for i, _ in flat], device=z_x.device)
        s_sim = F.cosine_similarity(z_x.index_select(0, rows), hidden, dim=-1).tolist()
        alpha, kind = self.options.alpha, self.options.lm_score
        out: list[list[Candidate]] = [[] for _ in candidates]
        for (i, c), sim in zip(flat, s_sim):
            s_lm = lm_score(c, kind)
            out[i].append(c.with_score(alpha * sim + (1 - alpha) * s_lm, s_sim=sim, s_lm=s_lm))
        for cands in out:
            cands.sort(key=lambda c: c.score, reverse=True)
        return out
