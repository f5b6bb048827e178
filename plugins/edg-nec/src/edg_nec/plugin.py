"""Registrations of the ``nec`` plugin (lazy references: listing plugins imports no torch).

NEC asks for COMET knowledge through the ``comet`` plugin's registered sources
(``comet.entity``, ``comet.social``); edg-nec depends on the edg-comet package, so the core
loads that plugin with it.
"""

from edg.plugins.hookspecs import hookimpl


@hookimpl
def register_decoders(register):
    register("nec.bart", "edg_nec.knowledge_decoder:KnowledgeBartDecoder")


@hookimpl
def register_loss_terms(register):
    register("nec.contrastive", "edg_nec.contrastive_loss:ContrastiveLoss")


@hookimpl
def register_rerankers(register):
    register("nec.similarity", "edg_nec.similarity_reranker:SimilarityReranker")


@hookimpl
def register_systems(register):
    register("nec", "edg_nec.system:NecSystem")


@hookimpl
def register_published_results(register):
    register("nec", "edg_nec.published:PUBLISHED")
