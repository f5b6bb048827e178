"""The ``emotion`` loss term: the batch mean of the emotion cross-entropy, or its batch sum
(KEMP's ``CrossEntropyLoss(reduction='sum')``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from edg.baseline.emotion_loss import EmotionLoss, EmotionOptions
from edg.interfaces.types import EmotionOutput, ModelOutput


def test_mean_is_per_conversation_and_sum_is_over_the_batch():
    torch.manual_seed(0)
    logits, gold = torch.randn(4, 32), torch.tensor([0, 5, 31, 5])
    outputs, batch = ModelOutput(None, None, EmotionOutput(logits, None, {})), {"emotion_id": gold}
    mean = EmotionLoss(EmotionOptions()).compute(batch, outputs, None)
    total = EmotionLoss(EmotionOptions(reduction="sum")).compute(batch, outputs, None)
    by_hand = sum(-float(torch.log_softmax(logits[i], -1)[gold[i]]) for i in range(4))
    assert float(total.value) == pytest.approx(by_hand, rel=1e-5)
    assert float(mean.value) == pytest.approx(by_hand / 4, rel=1e-5)
    assert float(mean.value) == pytest.approx(float(F.cross_entropy(logits, gold)), rel=1e-6)
    assert mean.logs == total.logs
