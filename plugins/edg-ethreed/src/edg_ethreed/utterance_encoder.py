"""The utterance encoder of §3.2: word embeddings (GloVe when a path is given) and a Bi-GRU;
an utterance is u = [→h_m; ←h_1], its words the states h_j = [→h_j; ←h_j]."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class UtteranceEncoder(nn.Module):
    def __init__(self, embedding: nn.Embedding, hidden: int) -> None:
        super().__init__()
        self.embedding = embedding
        self.hidden = hidden
        self.gru = nn.GRU(embedding.embedding_dim, hidden, batch_first=True, bidirectional=True)

    @property
    def output_dim(self) -> int:
        return 2 * self.hidden

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """``ids`` [U, L], ``lengths`` [U] -> word states [U, L, 2H] and utterances [U, 2H]."""
        emb = self.embedding(ids)
        # an empty utterance is read as its single padding token rather than dropped
        packed = pack_padded_sequence(emb, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, last = self.gru(packed)
        words, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.size(1))
        # last[0]: the forward GRU after word m; last[1]: the backward GRU after word 1
        return words, torch.cat([last[0], last[1]], dim=-1)
