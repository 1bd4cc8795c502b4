"""Terms lookup: the values of a `terms` query read from a field of another document.

Elasticsearch fetches `{index, id, path[, routing]}` with a real-time GET as the searching
user before the query runs (`TermsQueryBuilder` rewrite). The engine's search service installs
the fetcher for the current request (`DOCUMENT_FETCHER`), so the query layer needs no node.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from ..errors import ParsingError

# (index, id) → the document's `_source`, or None when there is no such document
Fetcher = Callable[[str, str], dict[str, Any] | None]
DOCUMENT_FETCHER: contextvars.ContextVar[Fetcher | None] = contextvars.ContextVar(
    "terms_lookup_fetcher", default=None)
_KEYS = ("index", "id", "path", "routing")


class TermsLookup:
    """A parsed lookup element."""

    def __init__(self, body: dict[str, Any]) -> None:
        for key in body:
            if key not in _KEYS:
                raise ParsingError(f"[terms] query does not support [{key}] within lookup "
                                   f"element")
        for key in ("id", "path", "index"):
            if body.get(key) is None:
                raise ParsingError(f"[terms] query lookup element requires specifying the "
                                   f"{key}.")
        self.index, self.id, self.path = str(body["index"]), str(body["id"]), str(body["path"])
        self._values: list[Any] | None = None

    def values(self) -> list[Any]:
        """The looked-up values (fetched once): every value at `path`, arrays flattened."""
        if self._values is None:
            fetch = DOCUMENT_FETCHER.get()
            if fetch is None:
                raise ParsingError("terms lookup needs a search context")
            source = fetch(self.index, self.id)
            self._values = [] if source is None else extract(source, self.path)
        return self._values


def extract(source: Any, path: str) -> list[Any]:
    """Values at a dotted path through objects and arrays (`XContentMapValues` style)."""
    nodes = [source]
    for part in path.split("."):
        nxt: list[Any] = []
        for node in nodes:
            items = node if isinstance(node, list) else [node]
            for item in items:
                if isinstance(item, dict) and part in item:
                    nxt.append(item[part])
        nodes = nxt
    out: list[Any] = []
    for node in nodes:
        for value in node if isinstance(node, list) else [node]:
            if value is not None and not isinstance(value, dict | list):
                out.append(value)
    return out
