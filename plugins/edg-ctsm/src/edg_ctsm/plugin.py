"""edg-ctsm's hook implementations.

Targets are lazy ``"module:Class"`` strings: importing this module (``edg plugins``) does
not import torch. CTSM uses the ``comet`` plugin's knowledge sources (``comet.social``), the
``vad`` plugin's trait-emotion module (``vad.trait``) and CEM's parts from the ``baselines``
plugin (the knowledge refinement ``cem.refinement`` and the diversity loss ``cem.diversity``)
by registered name only; edg-ctsm depends on the edg-comet, edg-vad and edg-baselines
packages, so the core loads those plugins with it.
"""

from __future__ import annotations

from edg.plugins.hookspecs import Register, hookimpl

@hookimpl
def register_emotion_modules(register: Register) -> None:
    register("ctsm.state", "edg_ctsm.state_emotion:StateEmotion")


@hookimpl
def register_decoders(register: Register) -> None:
    register("ctsm.pointer_generator", "edg_ctsm.pointer_generator_decoder:PointerGeneratorDecoder")


@hookimpl
def register_loss_terms(register: Register) -> None:
    register("ctsm.emotion", "edg_ctsm.emotion_loss:EmotionLoss")
    register("ctsm.guidance", "edg_ctsm.guidance_loss:GuidanceLoss")
    register("ctsm.cross_contrastive", "edg_ctsm.cross_contrastive_loss:CrossContrastiveLoss")


@hookimpl
def register_systems(register: Register) -> None:
    register("ctsm", "edg_ctsm.system:CtsmSystem")


@hookimpl
def register_published_results(register: Register) -> None:
    register("ctsm", "edg_ctsm.published:PUBLISHED")
