"""What every registered component shares: a typed options class and a name."""

from __future__ import annotations

from typing import Any, ClassVar

from edg.config import StrictModel, validate


class NoOptions(StrictModel):
    """Options of a component that takes none."""


class Component:
    """Mixin for registered components.

    ``Options`` is the component's typed options class (unknown keys rejected);
    :func:`build` validates a raw options dict against it and instantiates the class
    as ``cls(options, **dependencies)``.
    """

    Options: ClassVar[type[StrictModel]] = NoOptions
    registered_name: str = ""


def build(cls: type, options: dict[str, Any] | None, *, name: str, key: str, **dependencies: Any) -> Any:
    """Instantiate component ``cls`` with validated ``options``.

    :param key: the config path of the options, used in error messages
        (e.g. ``"losses[1].options"``).
    """
    opts = validate(cls.Options, dict(options or {}), prefix=f"{key}.")
    obj = cls(opts, **dependencies)
    obj.registered_name = name
    return obj
