"""`rescore`: the query rescorer, re-ranking the top `window_size` hits with a second query
(QueryRescorer: `query_weight`, `rescore_query_weight`, `score_mode`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tantivy

from ..errors import BadRequest, ParsingError, XContentParseError
from ..index.fulltext import KEY
from ..query import parse_query
from ..query.base import QueryNode
from .scope import Hit, Scope, keys_of, with_filters

_MODES: dict[str, Callable[[float, float], float]] = {
    "total": lambda primary, secondary: primary + secondary,
    "multiply": lambda primary, secondary: primary * secondary,
    "avg": lambda primary, secondary: (primary + secondary) / 2,
    "max": max,
    "min": min,
}
DEFAULT_WINDOW = 10
MAX_RESCORE_WINDOW = 10000  # index.max_rescore_window's default


@dataclass
class Rescorer:
    """One `{"window_size": .., "query": {...}}` entry."""

    window_size: int
    query: QueryNode
    query_weight: float = 1.0
    rescore_query_weight: float = 1.0
    score_mode: str = "total"


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise XContentParseError(f"[{name}] failed to parse field [{name}]")
    try:
        return kind(value)
    except (TypeError, ValueError) as err:
        raise XContentParseError(f"[query] failed to parse field [{name}]") from err


def parse_rescore(spec: Any) -> list[Rescorer]:
    """`rescore` as an object or a list of them, as RescorerBuilder parses it."""
    out = []
    for entry in spec if isinstance(spec, list) else [spec]:
        if not isinstance(entry, dict):
            raise ParsingError("[rescore] must be an object or an array of objects")
        unknown = sorted(set(entry) - {"window_size", "query"})
        if unknown:
            raise ParsingError(f"rescore doesn't support [{unknown[0]}]")
        if "query" not in entry:
            raise ParsingError("missing rescore type")
        body = entry["query"]
        if not isinstance(body, dict):
            raise ParsingError("[query] rescorer must be an object")
        unknown = sorted(set(body) - {"rescore_query", "query_weight", "rescore_query_weight",
                                      "score_mode"})
        if unknown:
            raise XContentParseError(f"[query] unknown field [{unknown[0]}]")
        if body.get("rescore_query") is None:
            raise ParsingError("[query] rescorer requires [rescore_query]")
        mode = str(body.get("score_mode", "total")).lower()
        if mode not in _MODES:
            raise BadRequest(f"illegal score_mode [{mode}]")
        window = _number("window_size", entry.get("window_size", DEFAULT_WINDOW), int)
        if window < 0:
            raise BadRequest(f"[window_size] must be greater than or equal to 0, got "
                             f"[{window}]")
        out.append(Rescorer(window, parse_query(body["rescore_query"]),
                            _number("query_weight", body.get("query_weight", 1.0), float),
                            _number("rescore_query_weight",
                                    body.get("rescore_query_weight", 1.0), float), mode))
    return out


def rescore_window(rescorers: list[Rescorer]) -> int:
    """How many top hits the rescorers need."""
    return max((r.window_size for r in rescorers), default=0)


def check_windows(scopes: list[Scope], rescorers: list[Rescorer]) -> None:
    """Refuse a window above an index's `index.max_rescore_window`, as Elasticsearch does."""
    for scope in scopes:
        limit = int(scope.ctx.settings.get("index.max_rescore_window", MAX_RESCORE_WINDOW))
        for rescorer in rescorers:
            if rescorer.window_size > limit:
                raise BadRequest(
                    f"Rescore window [{rescorer.window_size}] is too large. It must be less "
                    f"than [{limit}]. This prevents allocating massive heaps for storing the "
                    f"results to be rescored. This limit can be set by changing the "
                    f"[index.max_rescore_window] index level setting.")


def rescore(scopes: list[Scope], hits: list[Hit], rescorers: list[Rescorer],
            rank: Callable[[list[Hit]], None]) -> list[Hit]:
    """The hits with each rescorer applied in turn to its window (the window re-sorted by
    `rank`, the hits below it left in their order)."""
    for rescorer in rescorers:
        top, rest = hits[:rescorer.window_size], hits[rescorer.window_size:]
        secondary = _rescore_scores(scopes, top, rescorer.query)
        combine = _MODES[rescorer.score_mode]
        rescored = []
        for score, num, key in top:
            primary = score * rescorer.query_weight
            found = secondary.get((num, key))
            new = primary if found is None else combine(
                primary, found * rescorer.rescore_query_weight)
            rescored.append((new, num, key))
        rank(rescored)
        hits = rescored + rest
    return hits


def _rescore_scores(scopes: list[Scope], hits: list[Hit], query: QueryNode
                    ) -> dict[tuple[int, int], float]:
    """The rescore query's score of each window hit it matches."""
    scores: dict[tuple[int, int], float] = {}
    for num, scope in enumerate(scopes):
        keys = [key for _, n, key in hits if n == num]
        if not keys:
            continue
        only = tantivy.Query.term_set_query(scope.ctx.schema, KEY, keys)
        compiled = with_filters(query.compile(scope.ctx), [only])
        result = scope.ctx.shard.fulltext.searcher.search(compiled, len(keys), count=False)
        for score, key in keys_of(scope, result):
            scores[num, key] = score
    return scores
