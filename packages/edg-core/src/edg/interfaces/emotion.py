"""EmotionModule: from encoder features to emotion representations and logits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from torch import Tensor, nn

from edg.interfaces.component import Component
from edg.interfaces.types import EmotionOutput


class EmotionModule(Component, nn.Module, ABC):
    """Turns encoder states (and any lexicon features) into an :class:`EmotionOutput`.

    Built as ``cls(options, d_model=..., num_emotions=32, **extra)``. ``forward`` takes the
    encoder states [B, L, D], the mask [B, L] (True on tokens) and named feature tensors
    (e.g. ``input_ids`` [B, L], ``vad`` [B, L, 3]; batch-first unless the module documents
    a shared tensor such as emotion-word embeddings [32, D]) that a module may require.
    Emotion labels never enter this module; loss terms compare its logits to them.
    """

    def __init__(self, options: Any, *, d_model: int, num_emotions: int = 32) -> None:
        nn.Module.__init__(self)
        self.options = options
        self.d_model = d_model
        self.num_emotions = num_emotions

    @abstractmethod
    def forward(self, hidden: Tensor, mask: Tensor, **features: Tensor) -> EmotionOutput: ...
