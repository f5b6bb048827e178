"""Values passed between components."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

import torch
from torch import Tensor


def _map_tensors(value: Any, fn) -> Any:
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map_tensors(v, fn) for v in value)
    return value


@dataclass
class EncoderOutput:
    """What a decoder attends to.

    ``hidden``: [B, L, D]; ``mask``: [B, L] bool, True on real tokens. ``extras`` carries
    anything else a decoder needs per example (knowledge memories, source token ids for a
    pointer-generator, emotion vectors), every tensor with the batch as first dimension.
    """

    hidden: Tensor
    mask: Tensor
    extras: dict[str, Any] = field(default_factory=dict)

    def map(self, fn) -> "EncoderOutput":
        return EncoderOutput(fn(self.hidden), fn(self.mask), _map_tensors(self.extras, fn))

    def repeat_interleave(self, times: int) -> "EncoderOutput":
        """Each example repeated ``times`` (for beams and samples), order preserved."""
        return self.map(lambda t: t.repeat_interleave(times, dim=0))

    def index_select(self, index: Tensor) -> "EncoderOutput":
        return self.map(lambda t: t.index_select(0, index))

    @property
    def batch_size(self) -> int:
        return self.hidden.size(0)


@dataclass
class DecoderOutput:
    """Teacher-forced decoder result.

    ``logits``: [B, T, V] unnormalised scores, or log-probabilities when
    ``is_log_probs`` (a pointer-generator mixes distributions, so it returns log-probs).
    ``hidden``: [B, T, D] last-layer states.
    """

    logits: Tensor
    hidden: Tensor
    is_log_probs: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    _log_probs: Optional[Tensor] = field(default=None, init=False, repr=False, compare=False)

    def log_probs(self) -> Tensor:
        """[B, T, V] float log-probabilities. Computed once and kept: every loss term that
        reads them (the NLL, its label smoothing, a diversity loss) shares one log-softmax
        and one backward through it, the largest elementwise cost of a training step over
        a word vocabulary."""
        if self.is_log_probs:
            return self.logits
        if self._log_probs is None:
            self._log_probs = torch.log_softmax(self.logits.float(), dim=-1)
        return self._log_probs


@dataclass
class EmotionOutput:
    """``logits``: [B, num_emotions]; ``representation``: [B, D_e] (fed to the decoder)."""

    logits: Tensor
    representation: Tensor
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelOutput:
    """What :meth:`EdgModel.forward` returns; loss terms read from it."""

    decoder: DecoderOutput
    encoder: Optional[EncoderOutput] = None
    emotion: Optional[EmotionOutput] = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate:
    """One generated response.

    ``token_ids`` exclude BOS and EOS. ``logprob`` is the sum of token log-probabilities,
    ``score`` the search score (length-normalised, or a reranker's score). ``hidden`` is
    the mean of the decoder's last-layer states over the response, when requested.
    """

    token_ids: list[int]
    logprob: float
    score: float
    hidden: Optional[Tensor] = None
    text: Optional[str] = None
    extras: dict[str, Any] = field(default_factory=dict)

    def with_score(self, score: float, **extras: Any) -> "Candidate":
        return replace(self, score=score, extras={**self.extras, **extras})


__all__ = [
    "EncoderOutput",
    "DecoderOutput",
    "EmotionOutput",
    "ModelOutput",
    "Candidate",
]
