"""edg-imagine's hook implementations.

Targets are lazy ``"module:Class"`` strings: importing this module (``edg plugins``) does
not import torch.
"""

from __future__ import annotations

from edg.plugins.hookspecs import Register, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register("imagine.decoder", "edg_imagine.emotion_first_decoder:EmotionFirstDecoder")


@hookimpl
def register_loss_terms(register: Register) -> None:
    register("imagine.mechanisms", "edg_imagine.mechanism_loss:MechanismLoss")
    register("imagine.diversity", "edg_imagine.diversity_loss:DiversityLoss")


@hookimpl
def register_systems(register: Register) -> None:
    register("imagine", "edg_imagine.system:ImagineSystem")


@hookimpl
def register_published_results(register: Register) -> None:
    register("imagine", "edg_imagine.published:PUBLISHED")


@hookimpl
def register_knowledge_sources(register: Register) -> None:
    register("imagine.causes", "edg_imagine.cause_source:CauseKnowledge")
