"""Inference-enriched context encoder (CTSM §3.3).

* Context embedding ``E_C`` = word + position + dialogue-state embeddings of
  ``C = [CLS] ⊕ u_1 ⊕ ... ⊕ u_n`` (the core's ``DialogueEmbedding``).
* ``H_C = Encoder_C(E_C)`` (eq. 1).
* COMET knowledge is fused with the context "in the way of Sabour et al. (2022)" (CEM), by
  CEM's own refinement, the emotion module ``cem.refinement`` of edg-baselines (used by
  registered name): every relation's tails form one token sequence; the four *cognitive*
  relations (xIntent, xNeed, xWant, xEffect) are encoded here by one cognitive encoder, the
  *affective* relation (xReact) by the affective encoder; ``cem.refinement`` summarises them
  (first token [CLS] / mean), refines ``H_C`` with each summary and fuses the refined
  contexts with CEM's gated MLP. CTSM predicts emotion with its own guidance heads, so the
  refinement is built without CEM's emotion classifier (``num_emotions=0``).
* CTSM builds two such contexts, the **teacher** ``H_C^tchr`` and the **student**
  ``H_C^stu``: they share ``Encoder_C`` and the knowledge encoders and each has its own
  refinement (refine encoders and MLP). The paper only says "similarly"; separate fusion
  parameters are what lets the two contexts differ at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor, nn

from edg.api import DialogueEmbedding
from edg.interfaces.emotion import EmotionModule
from edg_baselines.cem_encoder import CemEncoder


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
                 make_refinement: Callable[[], EmotionModule],
                 contexts: tuple[str, ...] = ("teacher", "student")) -> None:
        """``make_refinement()`` builds one ``cem.refinement`` module (one per context); it
        is called here, after the encoders, so that a seed gives the same initial weights
        as when the refinement lived in this plugin."""
        super().__init__()
        self.embedding = embedding
        kw = dict(layers=layers, heads=heads, ffn_dim=ffn_dim, dropout=dropout, max_len=max_len)
        # DialogueEmbedding already adds positions: the encoders here take it as is
        self.context_encoder = CemEncoder(d_model, d_model, positions=False, **kw)
        self.affective_encoder = CemEncoder(d_model, d_model, positions=False, **kw)
        self.cognitive_encoder = CemEncoder(d_model, d_model, positions=False, **kw) if num_cognitive else None
        self.num_cognitive = num_cognitive
        self.fusions = nn.ModuleDict({name: make_refinement() for name in contexts})

    def encode_knowledge(self, ids: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """``ids``/``mask`` [B, R, Lk]: R-1 cognitive relations then the affective one last.

        Returns ``cem.refinement``'s knowledge features: the affective states [B, Lk, d] and
        mask, and the cognitive states [B, R-1, Lk, d] (each relation starts with [CLS])."""
        b, r, lk = ids.shape
        features = {"affective": self.affective_encoder(self.embedding(ids[:, -1]), mask[:, -1]),
                    "affective_mask": mask[:, -1]}
        if self.num_cognitive:
            cog_ids = ids[:, :-1].reshape(b * (r - 1), lk)
            cog_mask = mask[:, :-1].reshape(b * (r - 1), lk)
            features["cognitive"] = self.cognitive_encoder(self.embedding(cog_ids), cog_mask).view(b, r - 1, lk, -1)
        return features

    def forward(self, batch: dict, contexts: tuple[str, ...] | None = None) -> ContextEncoding:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        e_c = self.embedding(ids, batch.get("role_ids"))
        h_c = self.context_encoder(e_c, mask)
        knowledge = self.encode_knowledge(batch["knowledge_ids"], batch["knowledge_mask"])
        names = contexts if contexts is not None else tuple(self.fusions)
        enriched = {name: self.fusions[name](h_c, mask, **knowledge).extras["context"] for name in names}
        return ContextEncoding(e_c, h_c, mask, enriched)
