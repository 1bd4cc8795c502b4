"""Named queries (`_name`): which named clauses of a query each hit of a page matches, and
with what score (`matched_queries` in the hits)."""

from __future__ import annotations

import tantivy

from ..index.fulltext import KEY
from ..query.base import QueryNode
from .scope import Hit, Scope, keys_of, with_filters

Matches = dict[tuple[int, int], dict[str, float]]  # (scope number, key) → name → score


def matched_queries(scopes: list[Scope], query: QueryNode | None, page: list[Hit],
                    found: Matches | None = None) -> Matches:
    """The named clauses of `query` each hit of `page` matches, added after those already
    `found` (the named kNN searches)."""
    out: Matches = found if found is not None else {}
    nodes = named_nodes(query)
    if not nodes or not page:
        return out
    by_scope: dict[int, list[int]] = {}
    for _, num, key in page:
        by_scope.setdefault(num, []).append(key)
    for num, keys in by_scope.items():
        scope = scopes[num]
        only_page = tantivy.Query.term_set_query(scope.ctx.schema, KEY, keys)
        for node in nodes:
            compiled = with_filters(node.compile(scope.ctx), [only_page])
            result = scope.ctx.shard.fulltext.searcher.search(compiled, len(keys), count=False)
            for score, key in keys_of(scope, result):
                out.setdefault((num, key), {})[node.query_name] = score
    return out


def named_nodes(node: QueryNode | None) -> list[QueryNode]:
    """Every clause of a query tree that has a `_name`."""
    if node is None:
        return []
    out = [node] if node.query_name else []
    for child in node.children():
        out += named_nodes(child)
    return out
