"""edg-baselines' hook implementations.

Targets are lazy ``"module:Class"`` strings: importing this module (``edg plugins``) does
not import torch. MoEL's emotion tracker is the core's ``pooled`` emotion module and its
losses are the core's ``nll`` and ``emotion`` terms, used by registered name.
"""

from __future__ import annotations

from edg.hookspecs import Register, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register("moel.listeners", "edg_baselines.listener_mixture_decoder:ListenerMixtureDecoder")


@hookimpl
def register_systems(register: Register) -> None:
    register("moel", "edg_baselines.moel_system:MoelSystem")


@hookimpl
def register_published_results(register) -> None:
    register("baselines", "edg_baselines.published:PUBLISHED")
