"""Reranker ``example.length``: re-scores beam candidates with the length penalty of Wu et
al. (2016), ``logprob / ((5 + |y|) / 6) ** alpha``, so that a different trade-off between
likelihood and length than the search's picks the response."""

from __future__ import annotations

from edg.config import StrictModel
from edg.interfaces.reranker import Reranker


class LengthRerankerOptions(StrictModel):
    alpha: float = 1.0
    """0 ranks by total log-probability (short responses win); larger favours longer ones."""


class LengthReranker(Reranker):
    Options = LengthRerankerOptions

    def rerank(self, candidates, memory, batch, model):
        alpha = self.options.alpha
        out = []
        for cands in candidates:
            scored = [c.with_score(c.logprob / ((5 + len(c.token_ids)) / 6) ** alpha, search_score=c.score)
                      for c in cands]
            out.append(sorted(scored, key=lambda c: c.score, reverse=True))
        return out
