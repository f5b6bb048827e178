"""The component interfaces of edg, one per module.

- :mod:`edg.interfaces.knowledge` — :class:`KnowledgeSource`
- :mod:`edg.interfaces.emotion` — :class:`EmotionModule`
- :mod:`edg.interfaces.decoder` — :class:`Decoder`
- :mod:`edg.interfaces.loss` — :class:`LossTerm`
- :mod:`edg.interfaces.reranker` — :class:`Reranker`
- :mod:`edg.interfaces.model` — :class:`EdgModel`, what a system builds
- :mod:`edg.interfaces.system` — :class:`System`, a registered recipe
- :mod:`edg.interfaces.types` — the values passed between them
"""
