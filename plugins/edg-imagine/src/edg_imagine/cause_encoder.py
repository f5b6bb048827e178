"""The cause input and encoder (§3.1.2, eq. 4–5): C = [CLS] c_0 ... c_u, each token
E_W[w] + E_P[p] + E_S[s] (word, position and dialogue-state embeddings: the shared
:class:`edg.api.DialogueEmbedding`, 1024 positions), H_C = Cause-Encoder(E_C) and
h_c = H_C[0], the summary the communication-mechanism heads read."""

from __future__ import annotations

from torch import Tensor, nn

from edg_imagine.sequence_encoder import SequenceEncoder


class CauseEncoder(nn.Module):
    def __init__(self, embedding: nn.Module, encoder: SequenceEncoder) -> None:
        super().__init__()
        self.embedding = embedding
        self.encoder = encoder

    def forward(self, ids: Tensor, role_ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``ids``/``role_ids``/``mask`` [B, L] -> (H_C [B, L, d], h_c [B, d])."""
        states = self.encoder(self.embedding(ids, role_ids), mask)  # eq. 4, 5
        return states, states[:, 0]
