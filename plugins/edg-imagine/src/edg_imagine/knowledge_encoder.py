"""Experience projection, knowledge side (§3.2.2, eq. 10–12): the four commonsense
sequences S_Affect, S_Behav, S_Phys, S_Events (the five COMET tails of each relation of a
group, concatenated; [CLS] prepended to all but S_Affect) through one Knowledge-Encoder,
summarised by H_K[0] for Behaviour, Physical and Events (eq. 11) and by the mean of H_Affect
(eq. 12, over its real tokens)."""

from __future__ import annotations

from torch import Tensor, nn

from edg_imagine.sequence_encoder import SequenceEncoder

AFFECT = "Affect"
COGNITIVE = ("Behaviour", "Physical", "Events")
GROUPS = (AFFECT, *COGNITIVE)


def masked_mean(states: Tensor, mask: Tensor) -> Tensor:
    m = mask.unsqueeze(-1).to(states.dtype)
    return (states * m).sum(1) / m.sum(1).clamp(min=1)


class KnowledgeEncoder(nn.Module):
    def __init__(self, embedding: nn.Module, encoder: SequenceEncoder) -> None:
        super().__init__()
        self.embedding = embedding
        self.encoder = encoder

    def forward(self, sequences: dict[str, tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
        """group -> (ids [B, L_K], mask [B, L_K]) to group -> h_K [B, d]."""
        out = {}
        for group, (ids, mask) in sequences.items():
            states = self.encoder(self.embedding(ids), mask)  # eq. 10
            out[group] = masked_mean(states, mask) if group == AFFECT else states[:, 0]  # eq. 12 / 11
        return out
