"""Token embeddings: word + sinusoidal position + dialogue state (MoEL/CEM/CTSM)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from edg.errors import ResourceError


def sinusoidal_positions(max_len: int, d_model: int) -> Tensor:
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
    return table


class DialogueEmbedding(nn.Module):
    """``scale * word(ids) + position + state(role_ids)``; ``role_ids`` is optional
    (the decoder has no dialogue state). The word table is shared with the decoder's
    output projection by the models that tie weights."""

    def __init__(self, vocab_size: int, d_model: int, pad_id: int, *, num_roles: int = 2,
                 max_len: int = 1024, dropout: float = 0.1) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        nn.init.normal_(self.word.weight, std=d_model**-0.5)
        with torch.no_grad():
            self.word.weight[pad_id].zero_()
        self.state = nn.Embedding(num_roles, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        self.scale = math.sqrt(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: Tensor, role_ids: Optional[Tensor] = None) -> Tensor:
        if ids.size(1) > self.positions.size(0):
            raise ValueError(f"sequence of {ids.size(1)} tokens exceeds max_len {self.positions.size(0)}")
        x = self.word(ids) * self.scale + self.positions[: ids.size(1)]
        if role_ids is not None:
            x = x + self.state(role_ids)
        return self.dropout(x)


def load_glove(path: str | Path, vocab: list[str], d_model: int) -> tuple[Tensor, int]:
    """Rows of a GloVe text file for ``vocab`` (others keep a random init).

    Returns the table and the number of words found. A missing file or a wrong vector
    size is a one-line :class:`ResourceError`.
    """
    path = Path(path)
    if not path.is_file():
        raise ResourceError(f"GloVe file not found: {path} (set model.embeddings_path, or null to train embeddings)")
    index = {w: i for i, w in enumerate(vocab)}
    table = torch.randn(len(vocab), d_model) * d_model**-0.5
    found = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            word, _, rest = line.rstrip("\n").partition(" ")
            i = index.get(word)
            if i is None:
                continue
            values = rest.split(" ")
            if len(values) != d_model:
                raise ResourceError(f"{path} line {lineno}: vector has {len(values)} values, model.d_model is {d_model}")
            table[i] = torch.tensor([float(v) for v in values])
            found += 1
    return table, found
