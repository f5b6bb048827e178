"""The hooks a plugin implements.

Every hook is a *collector*: it receives a ``register`` callable and calls it once per
component. ``register(name, target)`` takes the registered name and either the class
itself or a lazy ``"module:attribute"`` reference; lazy references keep loading plugins
fast because nothing heavy (torch) is imported until a component is used.

A plugin is a module exposed through the ``edg`` entry-point group of a package. The
plugins it needs are that package's dependencies (``edg-nec`` depends on ``edg-comet``):
the core reads them from the installed metadata and loads them with it. Hook
implementations may accept any subset of a hook's arguments, so hooks can grow new
arguments without breaking existing plugins.
"""

from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("edg")
hookimpl = pluggy.HookimplMarker("edg")

Register = Callable[[str, object], None]


@hookspec
def register_knowledge_sources(register: Register) -> None:
    """Register :class:`edg.interfaces.knowledge.KnowledgeSource` subclasses.

    :param register: ``register(name, cls_or_"module:attr")``; names are global, e.g.
        ``"comet.social"``.
    """


@hookspec
def register_emotion_modules(register: Register) -> None:
    """Register :class:`edg.interfaces.emotion.EmotionModule` subclasses.

    :param register: ``register(name, cls_or_"module:attr")``.
    """


@hookspec
def register_decoders(register: Register) -> None:
    """Register :class:`edg.interfaces.decoder.Decoder` subclasses.

    :param register: ``register(name, cls_or_"module:attr")``.
    """


@hookspec
def register_loss_terms(register: Register) -> None:
    """Register :class:`edg.interfaces.loss.LossTerm` subclasses.

    :param register: ``register(name, cls_or_"module:attr")``.
    """


@hookspec
def register_rerankers(register: Register) -> None:
    """Register :class:`edg.interfaces.reranker.Reranker` subclasses.

    :param register: ``register(name, cls_or_"module:attr")``.
    """


@hookspec
def register_schedules(register: Register) -> None:
    """Register :class:`edg.interfaces.schedule.Schedule` subclasses (``train.schedule``).

    :param register: ``register(name, cls_or_"module:attr")``.
    """


@hookspec
def register_systems(register: Register) -> None:
    """Register :class:`edg.interfaces.system.System` subclasses (runnable recipes).

    :param register: ``register(name, cls_or_"module:attr")``; ``edg run --plugin NAME``
        runs the system registered as ``NAME``.
    """


@hookspec
def register_published_results(register: Callable[[str, object], None]) -> None:
    """Register the published result tables of a paper, for reports beside edg's runs.

    :param register: ``register(paper, entries)``: ``paper`` is a short key (``"nec"``);
        ``entries`` is a list of :class:`edg.reporting.published.PublishedEntry` or a lazy
        ``"module:attribute"`` reference to one (e.g. ``"edg_nec.published:PUBLISHED"``).
    """
