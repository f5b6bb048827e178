"""KEMP's emotional context graph encoding (Li et al., 2022, "Emotional Context Encoder"):
the graph's edges as an attention mask, and the multi-head graph attention that updates each
context vertex from its neighbours.

Vertices are the context tokens (position 0 is [CLS], the graph's root) followed by the
concepts. Edges (the paper's graph):

* [CLS] -- every context token and every concept;
* each token -- the tokens right before and after it (successive words);
* each token -- its own concepts;
* every vertex -- itself (the residual of the update).

Only context vertices are updated here (the authors' ``concept_graph``: queries are the
context, keys/values the context and the concepts); the concepts join them unchanged in the
Transformer encoder that follows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edg.api import merge_heads, split_heads


def graph_adjacency(context_mask: Tensor, concept_owner: Tensor) -> Tensor:
    """Edges [B, L, L + K] (True: vertex ``i`` attends to ``j``), built on the batch's device.

    ``context_mask`` [B, L] is True on real context tokens (position 0: [CLS]);
    ``concept_owner`` [B, K] is the context position each concept belongs to: -1 for a real
    concept slot that no token owns (the [SEP] opening the concepts), -2 for padding.
    """
    b, length = context_mask.shape
    device = context_mask.device
    pos = torch.arange(length, device=device)
    real = context_mask.bool()
    pair = real[:, :, None] & real[:, None, :]
    near = (pos[:, None] - pos[None, :]).abs() == 1
    context = pair & near[None]
    context[:, 0, :] |= real  # the root reaches every token ...
    context[:, :, 0] |= real  # ... and every token the root
    context |= torch.eye(length, dtype=torch.bool, device=device)[None]  # self (also keeps padding rows finite)
    owns = (concept_owner[:, None, :] == pos[None, :, None]) & real[:, :, None]  # token i -> its concepts
    owns[:, 0, :] |= concept_owner >= -1  # the root -> every real concept, [SEP] included
    return torch.cat([context, owns], dim=2)


class EmotionalContextGraphAttention(nn.Module):
    """``v_i' = LayerNorm(v_i + W_o [||_h sum_{j in A_i} alpha^h_ij W^h_v v_j])`` with
    ``alpha^h_ij = softmax_j((W^h_q v_i) . (W^h_k v_j) / sqrt(d_h))`` over the neighbours."""

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by {heads} graph-attention heads")
        self.heads = heads
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = dropout

    def forward(self, context: Tensor, concepts: Tensor, adjacency: Tensor) -> Tensor:
        """``context`` [B, L, D], ``concepts`` [B, K, D], ``adjacency`` [B, L, L + K] -> [B, L, D]."""
        source = torch.cat([context, concepts], dim=1)
        q = split_heads(self.query(context), self.heads)
        k, v = split_heads(self.key(source), self.heads), split_heads(self.value(source), self.heads)
        p = self.dropout if self.training else 0.0
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=adjacency[:, None], dropout_p=p)
        update = F.dropout(self.out(merge_heads(h)), p=p, training=self.training)
        return self.norm(context + update)
