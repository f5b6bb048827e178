"""Emotion perception (§3.1.1, eq. 1–3): the context S = [CLS] s_0 ... s_k through a
Transformer encoder (H_S) and ê_emo = W_e H_S[0] + b_e, the 32-way emotion logits
(softmax: eq. 2; their NLL L_emo, eq. 3, is the core ``emotion`` loss term)."""

from __future__ import annotations

from torch import Tensor, nn

from edg_imagine.sequence_encoder import SequenceEncoder


class EmotionPerception(nn.Module):
    def __init__(self, encoder: SequenceEncoder, d_model: int, num_emotions: int = 32) -> None:
        super().__init__()
        self.encoder = encoder
        self.classifier = nn.Linear(d_model, num_emotions)  # W_e, b_e

    def forward(self, embedded: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``embedded`` [B, L, d] (the [CLS] first), ``mask`` [B, L] -> (H_S, ê_emo [B, 32])."""
        states = self.encoder(embedded, mask)
        return states, self.classifier(states[:, 0])
