"""edg-comet's hook implementations.

Targets are lazy ``"module:Class"`` strings: importing this module (``edg plugins``) does
not import torch or transformers.
"""

from __future__ import annotations

from edg.plugins.hookspecs import Register, hookimpl


@hookimpl
def register_knowledge_sources(register: Register) -> None:
    register("comet.social", "edg_comet.social:SocialKnowledge")
    register("comet.entity", "edg_comet.entity:EntityKnowledge")
    register("comet.imagine", "edg_comet.imagine:ImagineKnowledge")
    register("comet.file", "edg_comet.file_source:FileKnowledge")
