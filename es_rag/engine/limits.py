"""Node-level resource limits, named and defaulted as Elasticsearch's settings.

| setting                               | default | Elasticsearch                              |
|---------------------------------------|---------|--------------------------------------------|
| `http.max_content_length`             | 100mb   | same (request body, after decompression)   |
| `indices.query.bool.max_clause_count` | 4096    | the 8.x documented default; 8.x/9.x derive |
|                                       |         | it from heap and search threads (>= 1024)  |
| `indices.query.bool.max_nested_depth` | 30      | same                                       |
| `search.max_buckets`                  | 65536   | same                                       |
| `script.max_size_in_bytes`            | 65535   | same (inline and stored mustache sources)  |
| `search.max_keep_alive`               | 24h     | same (scroll and point-in-time keep-alive) |
| `search.default_keep_alive`           | 5m      | same (a scroll's keep-alive when not given) |
| `search.max_open_scroll_context`      | 500     | same                                       |
| `engine.aggs.max_depth`               | 20      | engine's own: sub-aggregation nesting      |
| `engine.mustache.max_depth`           | 100     | engine's own: nested mustache sections     |
| `engine.mustache.max_output`          | 10mb    | engine's own: characters a render produces |
| `engine.http.threads`                 | 8       | worker threads serving requests            |
| `engine.http.connection_limit`        | 1000    | open connections before accept() pauses    |
| `engine.http.idle_timeout`            | 30s     | an idle or stalled connection is closed    |

Index-level limits (`index.max_terms_count` 65536, `index.max_regex_length` 1000,
`index.max_result_window`) live in each index's settings. The limits of the serving engine are
visible to the code serving a request through `current()`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import re
from dataclasses import dataclass

MB = 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1024, "mb": MB, "gb": 1024 * MB}
_TIME = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_TIME_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limits:
    """The limits one engine enforces (see the module docstring for names and defaults)."""

    max_content_length: int = 100 * MB
    max_clause_count: int = 4096
    max_nested_depth: int = 30
    max_buckets: int = 65536
    max_keep_alive: int = 86400  # seconds
    default_keep_alive: int = 300  # seconds
    max_open_scroll_context: int = 500
    script_max_size: int = 65535
    aggs_max_depth: int = 20
    mustache_max_depth: int = 100
    mustache_max_output: int = 10 * MB
    http_threads: int = 8
    http_connection_limit: int = 1000
    http_idle_timeout: int = 30


SETTINGS = {
    "http.max_content_length": "max_content_length",
    "indices.query.bool.max_clause_count": "max_clause_count",
    "indices.query.bool.max_nested_depth": "max_nested_depth",
    "search.max_buckets": "max_buckets",
    "search.max_keep_alive": "max_keep_alive",
    "search.default_keep_alive": "default_keep_alive",
    "search.max_open_scroll_context": "max_open_scroll_context",
    "script.max_size_in_bytes": "script_max_size",
    "engine.aggs.max_depth": "aggs_max_depth",
    "engine.mustache.max_depth": "mustache_max_depth",
    "engine.mustache.max_output": "mustache_max_output",
    "engine.http.threads": "http_threads",
    "engine.http.connection_limit": "http_connection_limit",
    "engine.http.idle_timeout": "http_idle_timeout",
}
_SIZES = {"max_content_length", "mustache_max_output", "script_max_size"}
_TIMES = {"http_idle_timeout", "max_keep_alive", "default_keep_alive"}
# the settings Elasticsearch lets `PUT _cluster/settings` change on a running cluster
DYNAMIC = frozenset({"search.max_keep_alive", "search.default_keep_alive",
                     "search.max_buckets", "search.max_open_scroll_context"})


def with_settings(base: Limits, settings: dict[str, str]) -> Limits:
    """`base` with Elasticsearch-style `name: value` settings applied (`100mb`, `30s`, `4096`);
    an unknown name or a bad value raises ValueError naming it."""
    changes: dict[str, int] = {}
    for name, value in settings.items():
        attr = SETTINGS.get(name)
        if attr is None:
            raise ValueError(f"unknown setting [{name}]; known: {', '.join(sorted(SETTINGS))}")
        changes[attr] = _parse(name, attr, str(value))
    limits = dataclasses.replace(base, **changes)
    if limits.default_keep_alive > limits.max_keep_alive:
        raise ValueError(
            f"Default keep alive setting for request [search.default_keep_alive] should be "
            f"smaller than max keep alive [search.max_keep_alive], was "
            f"({_seconds_text(limits.default_keep_alive)} > "
            f"{_seconds_text(limits.max_keep_alive)})")
    return limits


def setting_text(limits: Limits, name: str) -> str:
    """A setting's value as Elasticsearch renders it (`5m`, `104857600b`, `4096`)."""
    attr = SETTINGS[name]
    value = getattr(limits, attr)
    return _seconds_text(value) if attr in _TIMES else f"{value}b" if attr in _SIZES else \
        str(value)


def _seconds_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _parse(name: str, attr: str, value: str) -> int:
    if attr in _TIMES:
        match = _TIME.match(value)
        if match is None:
            raise ValueError(f"failed to parse setting [{name}] with value [{value}] as a time "
                             f"value")
        number = int(match.group(1)) * _TIME_UNITS[match.group(2)]
    elif attr in _SIZES:
        match = _SIZE.match(value)
        if match is None:
            raise ValueError(f"failed to parse setting [{name}] with value [{value}] as a size "
                             f"in bytes")
        number = int(match.group(1)) * _UNITS[(match.group(2) or "b").lower()]
    else:
        try:
            number = int(value)
        except ValueError as err:
            raise ValueError(f"failed to parse setting [{name}] with value [{value}] as an "
                             f"integer") from err
    if number < 1:
        raise ValueError(f"failed to parse value [{value}] for setting [{name}] must be >= 1")
    return number


_DEFAULTS = Limits()
_current: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("engine_limits",
                                                                         default=None)


def current() -> Limits:
    """The limits of the engine serving the current request (the defaults elsewhere)."""
    return _current.get() or _DEFAULTS


def serving(limits: Limits) -> contextvars.Token[Limits | None]:
    """Make `limits` current for this request; returns the token to `reset`."""
    return _current.set(limits)


def reset(token: contextvars.Token[Limits | None]) -> None:
    """Undo `serving`."""
    _current.reset(token)
