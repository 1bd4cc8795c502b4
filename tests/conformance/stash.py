"""The stash of a running test: values saved with ``set``, ``$name``/``${name}`` substitution and
dotted-path lookup into responses (``hits.hits.0._id``, ``\\.`` for a literal dot)."""

from __future__ import annotations

import json
import re
from typing import Any

_EMBEDDED_KEY = re.compile(r"\$\{([^}]+)\}")
_PATH_SEPARATOR = re.compile(r"(?<!\\)\.")
ARBITRARY_KEY = "_arbitrary_key_"


class StashError(LookupError):
    """A ``$name`` was used before anything was stored under that name."""


def java_string(value: Any) -> str:
    """Render a value as the upstream (Java) runner prints it: ``{k=v}``, ``[a, b]``, ``true``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return str(value)


def split_path(path: str) -> list[str]:
    """Split a dotted path on unescaped dots; ``''`` is the empty path (the whole object)."""
    if path == "":
        return []
    return [part.replace("\\.", ".") for part in _PATH_SEPARATOR.split(path)]


def evaluate_path(document: Any, parts: list[str]) -> Any:
    """Follow path parts into a parsed response; None when any part does not resolve."""
    current = document
    for part in parts:
        if isinstance(current, dict):
            if part == ARBITRARY_KEY:
                current = next(iter(current.values()), None)
            else:
                current = current.get(part)
        elif isinstance(current, list):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return None
        else:
            return None
    return current


def is_stashed(value: Any) -> bool:
    """Whether a value refers to the stash (``$name`` or contains ``${name}``)."""
    return isinstance(value, str) and (
        (len(value) > 1 and value.startswith("$")) or _EMBEDDED_KEY.search(value) is not None)


class Stash:
    """Named values of one test run, plus ``body`` (the last response)."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = dict(initial or {})

    def put(self, name: str, value: Any) -> None:
        """Store a value under a name (``set`` and ``transform_and_set``)."""
        self._values[name] = value

    def lookup(self, key: str) -> Any:
        """The value for ``name`` or a dotted ``name.path`` (``body.hits.total``)."""
        parts = split_path(key)
        if not parts or parts[0] not in self._values:
            raise StashError(f"stashed value not found for key [${key}]")
        value = evaluate_path(self._values[parts[0]], self._resolve_parts(parts[1:]))
        if value is None:
            raise StashError(f"stashed value not found for key [${key}]")
        return value

    def value_of(self, text: str) -> Any:
        """Resolve one stash reference: ``$name`` keeps the stored type, ``${name}`` is spliced."""
        if text.startswith("$") and not text.startswith("${"):
            return self.lookup(text[1:])
        return _EMBEDDED_KEY.sub(lambda m: java_string(self.lookup(m.group(1))), text)

    def resolve(self, value: Any) -> Any:
        """Substitute stash references everywhere in a value, map keys included."""
        if isinstance(value, dict):
            return {self.resolve(k) if is_stashed(k) else k: self.resolve(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if is_stashed(value):
            return self.value_of(value)
        return value

    def resolve_text(self, text: str) -> str:
        """Substitute ``${name}`` and whole ``"$name"`` literals inside a raw JSON/NDJSON body."""

        def whole(match: re.Match[str]) -> str:
            return json.dumps(self.lookup(match.group(1)))

        text = re.sub(r'"\$([A-Za-z_][\w.]*)"', whole, text)
        return _EMBEDDED_KEY.sub(lambda m: java_string(self.lookup(m.group(1))), text)

    def _resolve_parts(self, parts: list[str]) -> list[str]:
        return [java_string(self.value_of(p)) if is_stashed(p) else p for p in parts]

    def evaluate(self, document: Any, path: str) -> Any:
        """Value at a dotted path of a response; parts may themselves be stash references."""
        if is_stashed(path) and path.startswith("$") and not path.startswith("${"):
            return self.lookup(path[1:])
        return evaluate_path(document, self._resolve_parts(split_path(path)))
