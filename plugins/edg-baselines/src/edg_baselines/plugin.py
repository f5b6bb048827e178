"""edg-baselines' hook implementations.

Targets are lazy ``"module:Class"`` strings: importing this module (``edg plugins``) does
not import torch. MoEL's emotion tracker is the core's ``pooled`` emotion module and its
losses are the core's ``nll`` and ``emotion`` terms, and MIME's decoder is the core's
``transformer`` decoder, all used by registered name.
"""

from __future__ import annotations

from typing import Callable

from edg.plugins.hookspecs import Register, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register("moel.listeners", "edg_baselines.listener_mixture_decoder:ListenerMixtureDecoder")
    register("kemp.decoder", "edg_baselines.kemp_decoder:KempDecoder")
    register("empdg.decoder", "edg_baselines.empdg_decoder:EmpdgDecoder")


@hookimpl
def register_systems(register: Register) -> None:
    register("moel", "edg_baselines.moel_system:MoelSystem")
    register("mime", "edg_baselines.mime_system:MimeSystem")
    register("kemp", "edg_baselines.kemp_system:KempSystem")
    register("empdg", "edg_baselines.empdg_system:EmpdgSystem")
    register("cem", "edg_baselines.cem_system:CemSystem")


@hookimpl
def register_loss_terms(register: Register) -> None:
    register("mime.kl", "edg_baselines.kl_loss:KlLoss")
    register("kemp.attention", "edg_baselines.kemp_attention_loss:KempAttentionLoss")
    register("empdg.adversarial", "edg_baselines.empdg_adversarial_loss:AdversarialLoss")
    register("cem.diversity", "edg_baselines.cem_diversity_loss:DiversityLoss")


@hookimpl
def register_knowledge_sources(register: Register) -> None:
    register("kemp.concepts", "edg_baselines.kemp_concept_source:KempConceptSource")


@hookimpl
def register_emotion_modules(register: Register) -> None:
    register("kemp.emotion_signal", "edg_baselines.kemp_emotion_signal:EmotionSignal")
    register("cem.refinement", "edg_baselines.cem_refinement:CemRefinement")


@hookimpl
def register_published_results(register: Callable[[str, object], None]) -> None:
    register("baselines", "edg_baselines.published:PUBLISHED")
