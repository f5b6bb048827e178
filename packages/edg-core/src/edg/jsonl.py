"""Reading JSON Lines with errors that name the file and line."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Iterator

from edg.errors import DataError


def json_objects(lines: Iterable[str], where: Callable[[int], str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; a line that is not a JSON object is a
    :class:`DataError` prefixed by ``where(line number)`` (e.g. ``"out.jsonl:3"``)."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where(lineno)}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where(lineno)}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj
