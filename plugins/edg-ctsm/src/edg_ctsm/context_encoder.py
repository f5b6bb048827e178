"""Inference-enriched context encoder (CTSM §3.3).

* Context embedding ``E_C`` = word + position + dialogue-state embeddings of
  ``C = [CLS] ⊕ u_1 ⊕ ... ⊕ u_n`` (:class:`edg.baseline.dialogue_embedding.DialogueEmbedding`).
* ``H_C = Encoder_C(E_C)`` (eq. 1).
* COMET knowledge is fused with the context "in the way of Sabour et al. (2022)" (CEM):
  every relation's tails form one token sequence; the four *cognitive* relations
  (xIntent, xNeed, xWant, xEffect) are encoded by one cognitive encoder and summarised by
  their first token ([CLS]); the *affective* relation (xReact) is encoded by the
  affective encoder and mean-pooled. Each summary is broadcast over the context and
  concatenated with ``H_C``; a refine encoder (one for the affective, one shared by the
  cognitive relations) maps the ``2d`` concatenation back to ``d``; the ``5d``
  concatenation of the refined contexts is gated by its own sigmoid and reduced to ``d``
  by CEM's two-layer MLP.
* CTSM builds two such contexts, the **teacher** ``H_C^tchr`` and the **student**
  ``H_C^stu``: they share ``Encoder_C`` and the knowledge encoders and each has its own
  refine encoders and MLP (:class:`KnowledgeFusion`). The paper only says "similarly";
  separate fusion parameters are what lets the two contexts differ at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from edg.baseline.dialogue_embedding import DialogueEmbedding
from edg_ctsm.encoders import SeqEncoder, masked_mean


class CemMLP(nn.Module):
    """CEM's ``MLP``: ``(n+1)·d -> hid·d -> d``, bias-free, ReLU (hid = 3 for n = 4)."""

    def __init__(self, inputs: int, d_model: int) -> None:
        super().__init__()
        hidden = (inputs + 1) // 2
        self.lin_1 = nn.Linear(inputs * d_model, hidden * d_model, bias=False)
        self.lin_2 = nn.Linear(hidden * d_model, d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.lin_2(torch.relu(self.lin_1(x)))


class KnowledgeFusion(nn.Module):
    """One inference-enriched context (CEM's emotion/cognition refinement)."""

    def __init__(self, d_model: int, num_cognitive: int, *, layers: int, heads: int, ffn_dim: int,
                 dropout: float, max_len: int) -> None:
        super().__init__()
        kw = dict(layers=layers, heads=heads, ffn_dim=ffn_dim, dropout=dropout, max_len=max_len)
        self.affective_refine = SeqEncoder(2 * d_model, d_model, **kw)
        self.cognitive_refine = SeqEncoder(2 * d_model, d_model, **kw) if num_cognitive else None
        self.mlp = CemMLP(num_cognitive + 1, d_model) if num_cognitive else None

    def forward(self, h_c: Tensor, mask: Tensor, affective: Tensor, cognitive: list[Tensor]) -> Tensor:
        length = h_c.size(1)
        expand = lambda v: v.unsqueeze(1).expand(-1, length, -1)  # noqa: E731
        affective_ctx = self.affective_refine(torch.cat([h_c, expand(affective)], -1), mask)
        if self.cognitive_refine is None:
            return affective_ctx
        refined = [self.cognitive_refine(torch.cat([h_c, expand(c)], -1), mask) for c in cognitive]
        ctx = torch.cat([*refined, affective_ctx], dim=-1)
        ctx = torch.sigmoid(ctx) * ctx
        return self.mlp(ctx)


@dataclass
class ContextEncoding:
    embedding: Tensor
    """``E_C`` [B, L, d] (word + position + dialogue state)."""
    hidden: Tensor
    """``H_C`` [B, L, d] (eq. 1)."""
    mask: Tensor
    contexts: dict[str, Tensor]
    """``{"teacher": H_C^tchr, "student": H_C^stu}`` (only ``student`` without EGM)."""


class InferenceEnrichedContextEncoder(nn.Module):
    def __init__(self, embedding: DialogueEmbedding, d_model: int, *, num_cognitive: int, layers: int,
                 heads: int, ffn_dim: int, dropout: float, max_len: int,
                 contexts: tuple[str, ...] = ("teacher", "student")) -> None:
        super().__init__()
        self.embedding = embedding
        kw = dict(layers=layers, heads=heads, ffn_dim=ffn_dim, dropout=dropout, max_len=max_len)
        # DialogueEmbedding already adds positions: the encoders here take it as is
        self.context_encoder = SeqEncoder(d_model, d_model, positions=False, **kw)
        self.affective_encoder = SeqEncoder(d_model, d_model, positions=False, **kw)
        self.cognitive_encoder = SeqEncoder(d_model, d_model, positions=False, **kw) if num_cognitive else None
        self.num_cognitive = num_cognitive
        self.fusions = nn.ModuleDict({
            name: KnowledgeFusion(d_model, num_cognitive, **kw) for name in contexts
        })

    def encode_knowledge(self, ids: Tensor, mask: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``ids``/``mask`` [B, R, Lk]: R-1 cognitive relations then the affective one last.

        Returns the affective summary [B, d] (mean over its tokens, CEM) and one [B, d]
        summary per cognitive relation (its first, [CLS], position, CEM)."""
        b, r, lk = ids.shape
        affective = self.affective_encoder(self.embedding(ids[:, -1]), mask[:, -1])
        affective = masked_mean(affective, mask[:, -1])
        cognitive: list[Tensor] = []
        if self.num_cognitive:
            cog_ids = ids[:, :-1].reshape(b * (r - 1), lk)
            cog_mask = mask[:, :-1].reshape(b * (r - 1), lk)
            out = self.cognitive_encoder(self.embedding(cog_ids), cog_mask)[:, 0]
            cognitive = list(out.view(b, r - 1, -1).unbind(1))
        return affective, cognitive

    def forward(self, batch: dict, contexts: tuple[str, ...] | None = None) -> ContextEncoding:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        e_c = self.embedding(ids, batch.get("role_ids"))
        h_c = self.context_encoder(e_c, mask)
        affective, cognitive = self.encode_knowledge(batch["knowledge_ids"], batch["knowledge_mask"])
        names = contexts if contexts is not None else tuple(self.fusions)
        enriched = {name: self.fusions[name](h_c, mask, affective, cognitive) for name in names}
        return ContextEncoding(e_c, h_c, mask, enriched)
