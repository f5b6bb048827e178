"""System ``example.trs``: edg's Transformer baseline, reused through ``edg.api``, trained
with the confidence penalty and decoded with beam search re-ranked by ``example.length``."""

from __future__ import annotations

from edg.api import TINY_TRANSFORMER_PRESET, TransformerSystem
from edg.config import deep_merge


class ExampleSystem(TransformerSystem):
    description = "Transformer baseline + confidence penalty, length-reranked beam search (example plugin)"
    presets = {"tiny": deep_merge(TINY_TRANSFORMER_PRESET, {"generation": {"beam_size": 3, "num_return": 3}})}

    @classmethod
    def default_config(cls):
        return deep_merge(super().default_config(), {
            "losses": [{"name": "nll", "weight": 1.0}, {"name": "example.confidence_penalty", "weight": 0.1}],
            "generation": {"strategy": "beam", "beam_size": 5, "num_return": 5, "reranker": "example.length",
                           "reranker_options": {"alpha": 1.0}},
        })
