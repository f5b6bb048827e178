"""Hook implementations: registration only, with a lazy reference (no torch import)."""

from edg.hookspecs import hookimpl


@hookimpl
def register_loss_terms(register):
    register("example.confidence_penalty", "edg_example_loss.confidence_penalty:ConfidencePenalty")
