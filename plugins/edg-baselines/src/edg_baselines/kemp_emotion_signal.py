"""Emotion module ``kemp.emotion_signal``: KEMP's emotional signal (Li et al., 2022,
"Emotional Signal Perception"; the authors' ``train_one_batch``):

    w = softmax(eta)                   over the vertices (context tokens and concepts)
    c_e = sum_i w_i g_i                the intensity-weighted emotion context
    e_p = W_e c_e                      32 emotion logits (no bias), P(e) = softmax(e_p)

``forward(hidden [B, S, D], mask [B, S], intensity=[B, S])`` returns ``EmotionOutput(e_p,
c_e, extras={"intensity_weights": w})``; ``w`` is also the target of the decoder's
emotional attention loss (``kemp.attention``). Padding gets weight 0 (the authors' softmax
also spreads weight over padding; see docs/plugins/kemp.md).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from edg.config import StrictModel
from edg.interfaces.emotion import EmotionModule
from edg.interfaces.types import EmotionOutput


class EmotionSignalOptions(StrictModel):
    pass


class EmotionSignal(EmotionModule):
    Options = EmotionSignalOptions

    def __init__(self, options: Any, *, d_model: int, num_emotions: int = 32) -> None:
        super().__init__(options, d_model=d_model, num_emotions=num_emotions)
        self.classify = nn.Linear(d_model, num_emotions, bias=False)

    def forward(self, hidden: Tensor, mask: Tensor, **features: Tensor) -> EmotionOutput:
        intensity = features.get("intensity")
        if intensity is None:
            raise ValueError("kemp.emotion_signal needs the vertices' emotion intensities (intensity=[B, S])")
        weights = torch.softmax(intensity.float().masked_fill(~mask.bool(), float("-inf")), dim=-1)
        context = (weights.unsqueeze(-1).to(hidden.dtype) * hidden).sum(1)
        return EmotionOutput(self.classify(context), context, {"intensity_weights": weights})
