"""edg-ethreed's hook implementations.

Targets are lazy ``"module:Class"`` strings: importing this module (``edg plugins``) does
not import torch.
"""

from __future__ import annotations

from edg.plugins.hookspecs import Register, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register("ethreed.pointer_generator", "edg_ethreed.pointer_generator_decoder:CoveragePointerGeneratorDecoder")


@hookimpl
def register_loss_terms(register: Register) -> None:
    register("ethreed.emotion", "edg_ethreed.emotion_loss:PartyEmotionLoss")
    register("ethreed.gps", "edg_ethreed.gps_loss:GuidedPolicySearchLoss")
    register("ethreed.coverage", "edg_ethreed.coverage_loss:CoverageLoss")


@hookimpl
def register_systems(register: Register) -> None:
    register("ethreed", "edg_ethreed.system:EthreedSystem")


@hookimpl
def register_published_results(register: Register) -> None:
    register("ethreed", "edg_ethreed.published:PUBLISHED")
