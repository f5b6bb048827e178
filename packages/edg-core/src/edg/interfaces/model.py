"""EdgModel: the network a system builds from components."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from edg.interfaces.decoder import Decoder
from edg.interfaces.reranker import Reranker
from edg.interfaces.types import Candidate, EncoderOutput, ModelOutput


class EdgModel(nn.Module, ABC):
    """An encoder (the system's own), an optional emotion module and a :class:`Decoder`.

    The training loop calls :meth:`forward` on collated batches and hands the
    :class:`ModelOutput` to the loss terms; evaluation calls :meth:`generate` and
    :meth:`predict_emotion`.
    """

    decoder: Decoder

    @abstractmethod
    def encode(self, batch: dict[str, Any]) -> EncoderOutput:
        """Encode the context (and knowledge) of a batch."""

    @abstractmethod
    def forward(self, batch: dict[str, Any]) -> ModelOutput:
        """Teacher-forced pass: ``batch["decoder_input_ids"]`` -> logits for ``batch["labels"]``."""

    @torch.no_grad()
    def generate(self, batch: dict[str, Any], config: Any, reranker: Optional[Reranker] = None) -> list[list[Candidate]]:
        memory = self.encode(batch)
        need_hidden = reranker is not None and reranker.needs_hidden
        candidates = self.decoder.generate(memory, config, return_hidden=need_hidden)
        if reranker is not None:
            candidates = reranker.rerank(candidates, memory, batch, self)
        return candidates

    def predict_emotion(self, batch: dict[str, Any]) -> Union[Tensor, Mapping[str, Tensor], None]:
        """Emotion logits [B, 32] for each sample's ``emotion``; or several predictions by name,
        ``{"emotion": [B, 32], "listener_emotion": [B, 32], ...}``, each scored against the
        sample field of that name when the sample has it (``acc``, ``acc-listener_emotion``);
        or ``None`` for systems that do not predict emotion."""
        return None

    def predict_labels(self, batch: dict[str, Any], outputs: ModelOutput) -> Mapping[str, tuple[Tensor, Tensor]]:
        """Further classifications a system makes besides the emotion, scored at evaluation:
        ``{name: (predicted [B], gold [B])}`` as class indices, gold ``-1`` where a sample has
        no label (IMAGINE's communication mechanisms against its EPITOME labels). ``outputs`` is
        this batch's teacher-forced :meth:`forward`. The evaluator writes ``pred_<name>`` and
        ``gold_<name>`` into each output record and reports ``acc-<name>``."""
        return {}
