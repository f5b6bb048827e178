"""Decoder: the response generator.

A decoder has a teacher-forced :meth:`~Decoder.forward` (logits and hidden states for
every target position) and an **incremental state** that the search drives one token at a
time without knowing what it holds (a KV cache, a GRU hidden state, a coverage vector):

``start(memory) -> state``
    A state for decoding the ``memory.batch_size`` rows of ``memory``; no token fed yet.
``step(tokens [N], state) -> (log_probs [N, V], state)``
    Feed one token per row (BOS first) and get the log-probabilities of the next token
    (a new tensor: the search applies its constraints to it in place).
``reorder(state, index [N']) -> state``
    Row ``i`` of the new state continues row ``index[i]`` of the old one. The search calls
    it to reselect beams, to expand each example into beams or samples (``index`` repeats
    a row) and to drop finished rows. It may update ``state`` in place; the old state is
    not used again.
``last_hidden(state) -> [N, D] | None``
    The last-layer states of the tokens the last :meth:`step` fed (read before any
    :meth:`reorder`); the search averages them into ``Candidate.hidden``. ``None``: the
    decoder does not expose them and :meth:`attach_hidden` runs a teacher-forced pass.

Memory rows never change during a search, so a decoder computes what depends on the memory
alone (cross-attention keys/values) once in :meth:`start` and needs to move it in
:meth:`reorder` only when rows change examples (:func:`follow_rows` tells).

A decoder that implements only :meth:`forward` still works: the default state keeps the
prefix and recomputes it at every step through :meth:`next_token` (O(T²), as before).
:meth:`generate` runs :mod:`edg.generation` (greedy, beam search, sampling; batched) over
the state and returns :class:`~edg.interfaces.types.Candidate` lists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

from edg.interfaces.component import Component
from edg.interfaces.types import Candidate, DecoderOutput, EncoderOutput


def follow_rows(rows: Tensor, index: Tensor) -> tuple[Tensor, bool]:
    """The example of each row after ``reorder(index)``, and whether memory-derived tensors
    must be index-selected too.

    ``rows`` [N] is the example (row of the ``start`` memory) each state row decodes. When
    every new row decodes the same example as the old row at its position (beam
    reselection within each example), memory-derived tensors stay as they are.
    """
    new = rows.index_select(0, index)
    return new, not (new.shape == rows.shape and torch.equal(new, rows))


@dataclass
class PrefixState:
    """The default state: the fed tokens, recomputed at every step."""

    memory: EncoderOutput
    prefix: Optional[Tensor] = None


class Decoder(Component, nn.Module, ABC):
    bos_id: int
    eos_id: int
    pad_id: int
    #: ids the search never generates; ``None``: PAD and BOS (unless BOS is also EOS)
    banned_ids: Optional[tuple[int, ...]] = None

    def __init__(self, options: Any, **dims: Any) -> None:
        nn.Module.__init__(self)
        self.options = options

    @abstractmethod
    def forward(self, input_ids: Tensor, memory: EncoderOutput) -> DecoderOutput:
        """Teacher forcing: ``input_ids`` [B, T] are the targets shifted right (BOS first)."""

    def hidden_states(self, input_ids: Tensor, memory: EncoderOutput) -> Tensor:
        """Last-layer states [B, T, D] under teacher forcing (override to skip the output
        projection)."""
        return self.forward(input_ids, memory).hidden

    def next_token(self, prefix: Tensor, memory: EncoderOutput) -> Tensor:
        """Log-probabilities [N, V] of the next token after each prefix [N, t], recomputing
        the prefix (the stateless step behind the default state)."""
        out = self.forward(prefix, memory)
        return out.log_probs()[:, -1, :]

    # -- incremental state (override all three for real incremental decoding) -------------
    def start(self, memory: EncoderOutput) -> Any:
        return PrefixState(memory)

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        prefix = tokens[:, None] if state.prefix is None else torch.cat([state.prefix, tokens[:, None]], 1)
        return self.next_token(prefix, state.memory), PrefixState(state.memory, prefix)

    def reorder(self, state: Any, index: Tensor) -> Any:
        prefix = None if state.prefix is None else state.prefix.index_select(0, index)
        return PrefixState(state.memory.index_select(index), prefix)

    def last_hidden(self, state: Any) -> Optional[Tensor]:
        return None

    # -- search ----------------------------------------------------------------------------
    def search_banned_ids(self) -> tuple[int, ...]:
        ids = self.banned_ids if self.banned_ids is not None else (self.pad_id, self.bos_id)
        return tuple(dict.fromkeys(i for i in ids if i is not None and i != self.eos_id))

    def generate(self, memory: EncoderOutput, config: Any, *, return_hidden: bool = False) -> list[list[Candidate]]:
        """Candidates per example, best first (``config``: :class:`edg.config.GenerationConfig`)."""
        from edg.generation import search

        candidates = search(self, memory, config, bos_id=self.bos_id, eos_id=self.eos_id,
                            banned_ids=self.search_banned_ids(), return_hidden=return_hidden)
        if return_hidden:
            missing = [[c for c in cands if c.hidden is None] for cands in candidates]
            if any(missing):
                self.attach_hidden(missing, memory)
        return candidates

    @torch.no_grad()
    def attach_hidden(self, candidates: list[list[Candidate]], memory: EncoderOutput) -> None:
        """Fill ``Candidate.hidden`` with a batched teacher-forced pass over all candidates
        (the mean last-layer state over ``[BOS] + token_ids``)."""
        flat = [(i, c) for i, cands in enumerate(candidates) for c in cands]
        if not flat:
            return
        device = memory.hidden.device
        longest = max(len(c.token_ids) for _, c in flat) + 1
        ids = torch.full((len(flat), longest), self.pad_id, dtype=torch.long, device=device)
        for row, (_, c) in enumerate(flat):
            seq = [self.bos_id, *c.token_ids]
            ids[row, : len(seq)] = torch.tensor(seq, device=device)
        lengths = torch.tensor([len(c.token_ids) + 1 for _, c in flat], device=device)
        rows = torch.tensor([i for i, _ in flat], device=device)
        hidden = self.hidden_states(ids, memory.index_select(rows)).float()
        mask = (torch.arange(longest, device=device)[None, :] < lengths[:, None]).unsqueeze(-1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        for row, (_, c) in enumerate(flat):
            c.hidden = pooled[row]
