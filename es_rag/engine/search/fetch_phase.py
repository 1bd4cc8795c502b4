"""The fetch phase of a search: the hits of the page as the response shows them.

As Elasticsearch's `FetchPhase` and its sub-phases: `_source` (filtered), `fields`, highlight,
named queries matched, sort values, versions, explanation, and the collapse group with its inner
hits (the searches of `inner_hits` are run by the caller, as `ExpandSearchPhase` runs them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..query.base import QueryNode
from ..query.knn import KnnSpec
from ..source_filter import filter_source
from .collapse import CollapseSpec
from .context import SearchContext
from .explain import hit_explanation
from .hit_fields import requested_fields, vector_paths
from .inner_hits import inner_hit_specs, render_inner_hits
from .named_queries import matched_queries
from .retrievers import retriever_query
from .scope import Hit

if TYPE_CHECKING:
    from ..storage.docstore import StoredDoc

# (query, knn, filters, collapse, group value) → the `inner_hits` of one collapsed hit
InnerHits = Callable[[QueryNode | None, list[KnnSpec], list[QueryNode], CollapseSpec, Any],
                     dict[str, Any]]


class FetchPhase:
    """Renders the hits of a page of one search."""

    def __init__(self, context: SearchContext, inner_hits: InnerHits) -> None:
        self.context = context
        self.req = context.req
        self.scopes = context.scopes
        self.inner_hits = inner_hits

    def _matched_queries(self, page: list[Hit]) -> dict[tuple[int, int], dict[str, float]]:
        """Named queries (`_name`) each hit of the page matches, with their scores."""
        out: dict[tuple[int, int], dict[str, float]] = {}
        for spec in self.req.knn:
            if spec.name:
                for score, num, key in self.context.knn_hits(spec):
                    out.setdefault((num, key), {})[spec.name] = score
        return matched_queries(self.scopes, self.req.query, page, out)

    def render(self, page: list[Hit], sort_values: list[list[Any]] | None,
               show_score: bool) -> list[dict[str, Any]]:
        """Hits with `_source` (filtered), highlight, fields, sort values, versions."""
        req = self.req
        by_scope: dict[int, list[int]] = {}
        for _, num, key in page:
            by_scope.setdefault(num, []).append(key)
        profiler = self.context.profiler
        docs = {}
        for num, keys in by_scope.items():
            started = time.perf_counter_ns()
            docs[num] = self.scopes[num].ctx.shard.store.by_seq_nos(keys)
            if profiler is not None:
                profiler.shards[num].load_ns += time.perf_counter_ns() - started
                profiler.shards[num].loads += 1
        nested = inner_hit_specs(req)
        matched = self._matched_queries(page)
        out = []
        for pos, (score, num, key) in enumerate(page):
            started = time.perf_counter_ns()
            hit = self._render_hit(pos, (score, num, key), docs[num].get(key), sort_values,
                                   show_score, matched, nested)
            if hit is None:
                continue
            if profiler is not None:
                profiler.shards[num].hit_ns += time.perf_counter_ns() - started
                profiler.shards[num].hits += 1
            out.append(hit)
        return out

    def _render_hit(self, pos: int, found: Hit, doc: StoredDoc | None,
                    sort_values: list[list[Any]] | None, show_score: bool,
                    matched: dict[tuple[int, int], dict[str, float]],
                    nested: list[Any]) -> dict[str, Any] | None:
        """One hit of the page (None: its document is gone)."""
        if doc is None:
            return None
        req = self.req
        score, num, key = found
        fetch, inc, exc = req.source
        profile = self.context.profiler.shards[num] if self.context.profiler else None
        scope = self.scopes[num]
        hit: dict[str, Any] = {}
        if req.explain:
            shard = self.context.shard(num, key)
            hit.update({"_shard": f"[{scope.name}][{shard}]", "_node": self.context.node_id})
        hit.update({"_index": scope.name, "_id": doc.id,
                    "_score": score if show_score else None})
        if req.version:
            hit["_version"] = doc.version
        if req.seq_no_primary_term:
            hit["_seq_no"] = doc.seq_no
            hit["_primary_term"] = doc.primary_term
        started = time.perf_counter_ns()
        source = scope.ctx.source_of(doc) if (fetch or self.context.highlighter or req.fields or
                                       req.docvalue_fields or nested) else None
        filtering = time.perf_counter_ns()
        if fetch and source is not None and scope.ctx.mapping.source_enabled:
            hit["_source"] = filter_source(
                source, inc, exc + vector_paths(scope.ctx) if req.exclude_vectors else exc)
        if profile is not None and source is not None:
            profile.source_ns += filtering - started
            profile.filter_ns += time.perf_counter_ns() - filtering
            profile.sources += 1
        wanted = (req.fields or []) + (req.docvalue_fields or [])
        if wanted and source is not None:
            fields = requested_fields(scope.ctx, source, wanted)
            if fields:
                hit["fields"] = fields
        named = matched.get((num, key))
        if named:
            hit["matched_queries"] = named if self.context.named_scores else list(named)
        if self.context.highlighter is not None and source is not None:
            marked = self.context.highlighter.highlight(scope.ctx, req.query or
                                                retriever_query(req.retriever), source)
            if marked:
                hit["highlight"] = marked
        if sort_values is not None:
            hit["sort"] = sort_values[pos]
        if self.context.collapse_view is not None:
            self._render_collapse(hit, self.context.collapsed.get((num, key)))
        if nested and source is not None:
            hit.setdefault("inner_hits", {}).update(
                render_inner_hits(scope, nested, doc, source))
        if req.explain:
            hit["_explanation"] = hit_explanation(self.context, num, key, score)
        return hit

    def _render_collapse(self, hit: dict[str, Any], value: Any) -> None:
        assert self.context.collapse_view is not None
        spec, query, knn, filters = self.context.collapse_view
        hit.setdefault("fields", {})[spec.field] = [value]
        if spec.inner_hits:
            hit["inner_hits"] = self.inner_hits(query, knn, filters, spec, value)
