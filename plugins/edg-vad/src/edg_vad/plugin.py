"""edg-vad's hook implementations.

The target is a lazy ``"module:Class"`` string: importing this module does not import torch.
"""

from __future__ import annotations

from edg.plugins.hookspecs import Register, hookimpl


@hookimpl
def register_emotion_modules(register: Register) -> None:
    register("vad.trait", "edg_vad.trait_emotion:TraitEmotion")
