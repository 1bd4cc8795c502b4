"""The indices taking part in one search: a query context per index (`Scope`, with its alias
and DLS filters compiled and its field-level security applied), the hits found in them (`Hit`),
and what resolves them for a read (`ReadTargets`: the search service, as scroll, point in time
and update_by_query use it)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import tantivy

from ..index.fulltext import KEY
from ..index.mapping import Mapping
from ..node import Node, Target
from ..query import parse_query
from ..query.base import QueryContext

if TYPE_CHECKING:
    from ..documents import Documents
    from ..security.fls import FieldAccess
    from ..security.read_scope import ReadScope

Hit = tuple[float, int, int]  # (score, scope number, document key)


@dataclass
class Scope:
    """One index taking part in a search."""

    target: Target
    ctx: QueryContext
    alias_filter: tantivy.Query | None

    @property
    def name(self) -> str:
        return self.target.index.name


class ReadTargets(Protocol):
    """Resolves the indices of a read within the request's read scope (`SearchService`)."""

    node: Node
    documents: Documents

    def targets(self, index: str | None, params: dict[str, str], read_scope: ReadScope
                ) -> list[Target]:
        """The indices `index` resolves to that `read_scope` may read, its DLS attached."""
        ...


def positions_by_scope(hits: list[Hit]) -> dict[int, list[int]]:
    """The positions in `hits` of each scope's (index's) documents, so each is read once."""
    by_scope: dict[int, list[int]] = {}
    for pos, (_, num, _key) in enumerate(hits):
        by_scope.setdefault(num, []).append(pos)
    return by_scope


def make_scopes(targets: list[Target]) -> list[Scope]:
    """A query context per index, with the filters of the aliases it was reached through."""
    scopes = []
    for target in targets:
        svc = target.index
        # like Elasticsearch's search-idle shards: no periodic refresh without searches
        svc.shard.searched(idle_refresh="index.refresh_interval" not in svc.settings)
        ctx = QueryContext(reader_mapping(target), svc.shard, svc.shard.fulltext.schema,
                           settings={**svc.settings, "index.provided_name": svc.name},
                           fields=target.fields)
        if target.alias_filters:
            compiled = [parse_query(f).compile(ctx) for f in target.alias_filters]
            ctx.alias_filter = compiled[0] if len(compiled) == 1 else \
                tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in compiled])
        scopes.append(Scope(target, ctx, ctx.alias_filter))
    return scopes


def reader_mapping(target: Target) -> Mapping:
    """The index's mapping as the target's reader sees it (without the fields field-level
    security hides)."""
    mapping = target.index.mapping
    return mapping if target.fields is None else visible_mapping(mapping, target.fields)


def visible_mapping(mapping: Mapping, fields: FieldAccess) -> Mapping:
    """The mapping as a reader under field-level security sees it: hidden fields are absent, so
    queries, aggregations, sorts, highlighting and `fields` on them find nothing (as
    Elasticsearch's field-subset reader hides their terms and values)."""
    view = copy.copy(mapping)
    view.fields = {path: spec for path, spec in mapping.fields.items()
                   if spec.type in ("object", "nested") or fields.allows(path)}
    view.aliases = {alias: path for alias, path in mapping.aliases.items()
                    if fields.allows(alias) and fields.allows(path)}
    return view


def with_filters(query: tantivy.Query, filters: list[tantivy.Query]) -> tantivy.Query:
    """Add non-scoring required clauses to a query."""
    if not filters:
        return query
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, query)] +
        [(tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0)) for f in filters])


def keys_of(scope: Scope, result: tantivy.SearchResult) -> list[tuple[float, int]]:
    hits = result.hits
    keys = scope.ctx.shard.fulltext.searcher.fast_field_values(KEY, [a for _, a in hits])
    return [(float(score), key) for (score, _), key in zip(hits, keys, strict=True)]


def filter_keys(ctx: QueryContext, filters: list[tantivy.Query]) -> set[int]:
    """Keys of the documents a set of filter queries admits (on the refreshed state)."""
    query = filters[0] if len(filters) == 1 else tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, q) for q in filters])
    searcher = ctx.shard.fulltext.searcher
    count = ctx.shard.fulltext.count(query)
    if not count:
        return set()
    hits = searcher.search(query, count, count=False).hits
    return set(searcher.fast_field_values(KEY, [addr for _, addr in hits]))
