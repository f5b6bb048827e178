"""LossTerm ``kemp.attention``: KEMP's emotional attention loss (Li et al., 2022; the
authors' ``--attn_loss``, weight 0.1): the decoder's attention over the graph, averaged over
the response's positions, is pulled towards the vertices' intensity weights
``softmax(eta)`` by a mean squared error.

Reads ``outputs.decoder.extras["attention"]`` [B, T, S] (``kemp.decoder``) and
``outputs.emotion.extras["intensity_weights"]`` [B, S] (``kemp.emotion_signal``). Only the
response's real positions and the graph's real vertices count (the authors average over
padding too; see docs/plugins/kemp.md).
"""

from __future__ import annotations

from typing import Any

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput
from edg_baselines.kemp_decoder import ATTENTION


class AttentionLossOptions(StrictModel):
    pass


class KempAttentionLoss(LossTerm):
    Options = AttentionLossOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        attention = outputs.decoder.extras.get(ATTENTION)
        emotion = outputs.emotion
        if attention is None or emotion is None or "intensity_weights" not in emotion.extras or outputs.encoder is None:
            raise ValueError("loss 'kemp.attention' needs kemp.decoder's attention and kemp.emotion_signal's "
                             "intensity weights (model.decoder_options.emotion_cross_attention: true)")
        target = emotion.extras["intensity_weights"]
        positions = batch["labels"].ne(-100).to(attention.dtype)  # [B, T]
        mean = (attention * positions[:, :, None]).sum(1) / positions.sum(1).clamp(min=1)[:, None]
        vertices = outputs.encoder.mask.to(attention.dtype)
        loss = (((mean - target.to(attention.dtype)) ** 2) * vertices).sum() / vertices.sum().clamp(min=1)
        return LossValue(loss, {"attention_mse": float(loss.detach())})
