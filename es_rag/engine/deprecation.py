"""Deprecation warnings raised while serving a request (Elasticsearch's `DeprecationLogger`):
collected per request and answered in its `Warning` header."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_current: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "engine_deprecations", default=None)


def warn(message: str) -> None:
    """Record `message` for the response of the request being served (once; nothing when no
    request is being served)."""
    collected = _current.get()
    if collected is not None and message not in collected:
        collected.append(message)


@contextmanager
def collecting() -> Iterator[list[str]]:
    """The warnings raised inside the block, in order."""
    collected: list[str] = []
    token = _current.set(collected)
    try:
        yield collected
    finally:
        _current.reset(token)
