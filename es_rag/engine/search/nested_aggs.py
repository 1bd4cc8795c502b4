"""The `nested` and `reverse_nested` aggregations: sub-aggregations over the objects of a
nested field of the matching documents, and from those objects back to their root documents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tantivy

from ..errors import BadRequest, ParsingError
from ..index.fulltext import KEY
from ..index.mapping.nested import root_key
from ..query.base import QueryContext
from ..query.nested import level_context, nested_level

NESTED_AGGS = ("nested", "reverse_nested")
RunAggs = Callable[[list[tuple[QueryContext, tantivy.Query]], dict[str, Any]], dict[str, Any]]


def agg_kind(body: dict[str, Any]) -> str:
    return next(k for k in body if k not in ("aggs", "aggregations", "meta"))


def validate_nested_agg(name: str, kind: str, spec: Any) -> None:
    """`nested` needs a `path`; `reverse_nested` takes an optional one (only the root)."""
    if not isinstance(spec, dict):
        raise ParsingError(f"Expected [START_OBJECT] under [{kind}]")
    extra = set(spec) - {"path"}
    if extra:
        raise ParsingError(f"[{kind}] unknown field [{sorted(extra)[0]}]")
    if kind == "nested" and not spec.get("path"):
        raise ParsingError(f"Missing [path] field for nested aggregation [{name}]")
    if kind == "reverse_nested" and spec.get("path"):
        raise BadRequest("[reverse_nested] to a [path] other than the root document is not "
                         "supported by the embedded engine")


def refuse_under_buckets(kind: str, sub: dict[str, Any]) -> None:
    """A nested aggregation is served at the top level or under another nested one."""
    if kind in NESTED_AGGS:
        return
    for body in sub.values():
        if isinstance(body, dict) and any(k in NESTED_AGGS for k in body):
            raise BadRequest(f"a nested aggregation under a [{kind}] aggregation is not "
                             f"supported by the embedded engine")


def _matching_keys(ctx: QueryContext, query: tantivy.Query) -> list[int]:
    fulltext = ctx.shard.fulltext
    count = fulltext.count(query)
    if not count:
        return []
    hits = fulltext.searcher.search(query, count, count=False).hits
    return [int(k) for k in fulltext.searcher.fast_field_values(KEY, [a for _, a in hits])]


def run_nested_agg(parts: list[tuple[QueryContext, tantivy.Query]], body: dict[str, Any],
                   run: RunAggs) -> dict[str, Any]:
    """The result of one `nested` or `reverse_nested` aggregation over every index."""
    sub = body.get("aggs", body.get("aggregations")) or {}
    inner = [_nested_part(ctx, query, body) for ctx, query in parts]
    out: dict[str, Any] = {"doc_count": sum(count for _, _, count in inner)}
    if sub:
        out.update(run([(ctx, query) for ctx, query, _ in inner], sub))
    return out


def _nested_part(ctx: QueryContext, query: tantivy.Query, body: dict[str, Any]
                 ) -> tuple[QueryContext, tantivy.Query, int]:
    """The context, query and document count the aggregation moves to in one index."""
    kind = agg_kind(body)
    if kind == "reverse_nested":
        if ctx.parent is None:
            raise BadRequest("Reverse nested aggregation can only be used inside a [nested] "
                             "aggregation")
        roots = sorted({root_key(k) for k in _matching_keys(ctx, query)})
        target, scope = ctx.parent, roots
    else:
        level = nested_level(ctx, str(body[kind]["path"]))
        if level is None or ctx.parent is not None:
            return ctx, tantivy.Query.empty_query(), 0
        roots_set = set(_matching_keys(ctx, query))
        target = level_context(ctx, level)
        everything = tantivy.Query.all_query()
        scope = [k for k in _matching_keys(target, everything) if root_key(k) in roots_set]
    return target, tantivy.Query.term_set_query(target.schema, KEY, scope), len(scope)
