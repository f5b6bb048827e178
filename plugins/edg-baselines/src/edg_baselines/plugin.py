"""edg-baselines' hook implementations.

Targets are lazy ``"module:Class"`` strings: importing this module (``edg plugins``) does
not import torch. MoEL's emotion tracker is the core's ``pooled`` emotion module and its
losses are the core's ``nll`` and ``emotion`` terms, and MIME's decoder is the core's
``transformer`` decoder, all used by registered name.
"""

from __future__ import annotations

from typing import Callable

from edg.hookspecs import Register, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register("moel.listeners", "edg_baselines.listener_mixture_decoder:ListenerMixtureDecoder")


@hookimpl
def register_systems(register: Register) -> None:
    register("moel", "edg_baselines.moel_system:MoelSystem")
    register("mime", "edg_baselines.mime_system:MimeSystem")


@hookimpl
def register_loss_terms(register: Register) -> None:
    register("mime.kl", "edg_baselines.kl_loss:KlLoss")


@hookimpl
def register_published_results(register: Callable[[str, object], None]) -> None:
    register("baselines", "edg_baselines.published:PUBLISHED")
