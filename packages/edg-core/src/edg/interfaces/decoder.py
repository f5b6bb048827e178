"""Decoder: the response generator.

A decoder has a teacher-forced :meth:`forward` (logits and hidden states for every
target position) and a :meth:`next_token` step on a batch of prefixes. Generation
(greedy, beam search, sampling; batched) is provided by :meth:`generate`, which runs
:mod:`edg.generation` over :meth:`next_token`; a decoder with a faster native search
(e.g. a Hugging Face model with a KV cache) overrides it and returns the same
:class:`~edg.interfaces.types.Candidate` lists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor, nn

from edg.interfaces.component import Component
from edg.interfaces.types import Candidate, DecoderOutput, EncoderOutput


class Decoder(Component, nn.Module, ABC):
    bos_id: int
    eos_id: int
    pad_id: int

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
        """Log-probabilities [N, V] of the next token after each prefix [N, t]."""
        out = self.forward(prefix, memory)
        return out.log_probs()[:, -1, :]

    def generate(self, memory: EncoderOutput, config: Any, *, return_hidden: bool = False) -> list[list[Candidate]]:
        """Candidates per example, best first (``config``: :class:`edg.config.GenerationConfig`)."""
        from edg.generation import search

        candidates = search(self.next_token, memory, config, bos_id=self.bos_id, eos_id=self.eos_id,
                            banned_ids=(self.pad_id, self.bos_id))
        if return_hidden:
            self.attach_hidden(candidates, memory)
        return candidates

    @torch.no_grad()
    def attach_hidden(self, candidates: list[list[Candidate]], memory: EncoderOutput) -> None:
        """Fill ``Candidate.hidden`` with a batched teacher-forced pass over all candidates."""
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
