"""EmotionModule ``pooled``: a linear 32-way classifier on the pooled encoder states
(the emotion head of Multi-TRS, Rashkin et al. 2019)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.types import EmotionOutput


class PooledEmotionOptions(StrictModel):
    pooling: Literal["first", "mean", "max"] = "mean"
    dropout: float = 0.1


class PooledEmotionClassifier(EmotionModule):
    Options = PooledEmotionOptions

    def __init__(self, options: PooledEmotionOptions, *, d_model: int, num_emotions: int = 32, **_: object) -> None:
        super().__init__(options, d_model=d_model, num_emotions=num_emotions)
        self.dropout = nn.Dropout(options.dropout)
        self.classifier = nn.Linear(d_model, num_emotions)

    def forward(self, hidden: Tensor, mask: Tensor, **features: Tensor) -> EmotionOutput:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        if self.options.pooling == "first":
            pooled = hidden[:, 0]
        elif self.options.pooling == "max":
            pooled = hidden.masked_fill(m == 0, float("-inf")).max(1).values
        else:
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1)
        return EmotionOutput(self.classifier(self.dropout(pooled)), pooled)
