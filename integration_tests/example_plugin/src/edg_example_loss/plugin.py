"""Hook implementations: registration only, with lazy references (no torch import)."""

from edg.plugins.hookspecs import hookimpl


@hookimpl
def register_loss_terms(register):
    register("example.confidence_penalty", "edg_example_loss.confidence_penalty:ConfidencePenalty")


@hookimpl
def register_rerankers(register):
    register("example.length", "edg_example_loss.length_reranker:LengthReranker")


@hookimpl
def register_systems(register):
    register("example.trs", "edg_example_loss.system:ExampleSystem")
