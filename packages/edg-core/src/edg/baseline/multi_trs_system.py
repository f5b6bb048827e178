"""System ``multi-trs``: Multitask Transformer (Rashkin et al. 2019) — the Transformer
plus a 32-way emotion classifier on the pooled encoder states, trained with
``L = L_nll + L_emotion``; reports emotion accuracy."""

from __future__ import annotations

from typing import Any

from edg.config import deep_merge
from edg.baseline.transformer_system import TransformerOptions, TransformerSystem


class MultiTrsOptions(TransformerOptions):
    emotion_module: str = "pooled"
    """Registered name of the emotion module."""
    emotion_options: dict[str, Any] = {}


class MultiTrsSystem(TransformerSystem):
    Options = MultiTrsOptions
    description = "Transformer + emotion classifier, trained multi-task (Rashkin et al. 2019)"
    predicts_emotion = True

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return deep_merge(super().default_config(), {
            "losses": [{"name": "nll", "weight": 1.0}, {"name": "emotion", "weight": 1.0}],
            # MoEL's code (whose Multi-TRS rows the papers cite) keeps the lowest validation
            # perplexity; the summed objective stops when the classifier starts to overfit
            "train": {"early_stopping_on": "token_nll"},
        })

    def build_emotion_module(self):
        o = self.options
        return self.component("emotion_module", o.emotion_module, o.emotion_options,
                              key="model.emotion_options", d_model=o.d_model, num_emotions=32)
