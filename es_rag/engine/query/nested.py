"""The `nested` query: its inner query runs on the objects of a nested field, each object
matched as a whole; a root document matches when one of its objects does, scored from its
matching objects by `score_mode` (avg, sum, min, max, none) as Lucene's block join scores it.
Also the `inner_hits` options shared with a nested kNN search, and the per-root matches they
are rendered from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import tantivy

from ..errors import BadRequest, ParsingError
from ..index.fulltext import KEY
from ..index.mapping.nested import root_key
from ..index.mapping.semantic_text import chunks_owner
from ..source_filter import parse_source_spec
from .base import QueryContext, QueryNode, query_shard_error

if TYPE_CHECKING:
    from ..index.nested_index import NestedLevel

SCORE_MODES = ("avg", "sum", "min", "max", "none")
_INNER_HITS_KEYS = {"name", "from", "size", "_source", "highlight", "sort", "track_scores",
                    "version", "seq_no_primary_term", "explain", "fields", "docvalue_fields",
                    "stored_fields", "ignore_unmapped"}

Matches = dict[int, list[tuple[float, int]]]
"""Root key → (score, object key) of its matching nested objects, best first."""


@dataclass
class InnerHitsSpec:
    """`inner_hits` of a nested query or a nested knn search."""

    name: str
    path: str = ""
    query: QueryNode | None = None  # the nested query's inner query (for highlighting)
    from_: int = 0
    size: int = 3
    source: tuple[bool, list[str], list[str]] = (True, [], [])
    highlight: dict[str, Any] | None = None
    sort: Any = None
    track_scores: bool = False
    fields: list[Any] = field(default_factory=list)  # `fields` and `docvalue_fields`
    version: bool = False
    seq_no_primary_term: bool = False
    matches: dict[int, Matches] = field(default_factory=dict)  # id(query context) → matches


def parse_inner_hits(body: Any, path: str) -> InnerHitsSpec:
    """Parse an `inner_hits` object (its name defaults to the nested path)."""
    if not isinstance(body, dict):
        raise ParsingError("[inner_hits] must be an object", error_type="parsing_exception")
    for key in body:
        if key not in _INNER_HITS_KEYS:
            raise ParsingError(f"[inner_hits] unknown field [{key}]",
                               error_type="x_content_parse_exception")
    from_, size = _count(body, "from", 0), _count(body, "size", 3)
    if from_ < 0:
        raise BadRequest("illegal from value, at least 0 or higher")
    if size < 0:
        raise BadRequest("illegal size value, at least 0 or higher")
    return InnerHitsSpec(
        name=str(body.get("name") or path), path=path, from_=from_, size=size,
        source=parse_source_spec(body.get("_source")), highlight=body.get("highlight"),
        sort=body.get("sort"), track_scores=body.get("track_scores") is True,
        fields=[*_as_list(body.get("fields")), *_as_list(body.get("docvalue_fields"))],
        version=body.get("version") is True,
        seq_no_primary_term=body.get("seq_no_primary_term") is True)


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _count(body: dict[str, Any], key: str, default: int) -> int:
    try:
        return int(body.get(key, default))
    except (TypeError, ValueError) as err:
        raise ParsingError(f"[inner_hits] failed to parse field [{key}]") from err


def nested_level(ctx: QueryContext, path: str) -> NestedLevel | None:
    """The nested level a query on `path` runs in (None: no such level in this index)."""
    spec = ctx.mapping.fields.get(path)
    if spec is None or spec.type != "nested":
        return None
    levels = getattr(getattr(ctx.shard, "nested", None), "levels", {})
    return levels.get(path)


def level_context(ctx: QueryContext, level: NestedLevel) -> QueryContext:
    """The query context of a nested level (same mapping, settings and `now`)."""
    child = ctx.levels.get(level.path)
    if child is None:
        child = ctx.levels[level.path] = QueryContext(
            ctx.mapping, level, level.fulltext.schema,  # type: ignore[arg-type]
            settings=ctx.settings, now_ms=ctx.now_ms, parent=ctx)
    return child


def object_matches(ctx: QueryContext, query: tantivy.Query) -> Matches:
    """Every nested object of a level matching `query`, grouped by root document."""
    fulltext = ctx.shard.fulltext
    count = fulltext.count(query)
    out: Matches = {}
    if not count:
        return out
    hits = fulltext.searcher.search(query, count, count=False).hits
    keys = fulltext.searcher.fast_field_values(KEY, [addr for _, addr in hits])
    for (score, _), key in zip(hits, keys, strict=True):
        out.setdefault(root_key(key), []).append((float(score), int(key)))
    for objects in out.values():
        objects.sort(key=lambda pair: (-pair[0], pair[1]))
    return out


def root_query(ctx: QueryContext, scores: dict[int, float], boost: float) -> tantivy.Query:
    """Root documents with the given scores (times `boost`)."""
    if not scores:
        return tantivy.Query.empty_query()
    return tantivy.Query.boolean_query([
        (tantivy.Occur.Should, tantivy.Query.const_score_query(
            tantivy.Query.term_query(ctx.schema, KEY, key), score * boost))
        for key, score in scores.items()])


class NestedQuery(QueryNode):
    """`nested`: path, query, score_mode, ignore_unmapped, inner_hits."""

    name = "nested"

    def __init__(self, body: Any) -> None:
        from .registry import parse_query

        body = self.open(body, {"path", "query", "score_mode", "ignore_unmapped",
                                "inner_hits"})
        if "path" not in body:
            raise ParsingError("[nested] requires 'path' field")
        if "query" not in body:
            raise ParsingError("[nested] requires 'query' field")
        self.path = str(body["path"])
        self.query = parse_query(body["query"])
        self.score_mode = str(body.get("score_mode", "avg"))
        if self.score_mode not in SCORE_MODES:
            raise BadRequest(f"No score mode for child query [{self.score_mode}] found")
        self.ignore_unmapped = body.get("ignore_unmapped", False) in (True, "true")
        self.inner_hits = None if body.get("inner_hits") is None else \
            parse_inner_hits(body["inner_hits"], self.path)
        if self.inner_hits is not None:
            self.inner_hits.query = self.query
        # knn clauses of the inner query keep only the pre-filters given inside it
        self._own_prefilters = [(k, len(k.prefilters)) for k in self.query.knn_nodes()]

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        owner = chunks_owner(ctx.mapping.fields, self.path)
        if owner is not None:
            return self._on_chunks(ctx, owner)
        spec = ctx.mapping.fields.get(self.path)
        if spec is None or spec.type != "nested":
            if self.ignore_unmapped:
                return tantivy.Query.empty_query()
            raise query_shard_error(f"[nested] failed to find nested object under path "
                                    f"[{self.path}]", ctx.index_name)
        level = nested_level(ctx, self.path)
        if level is None or getattr(ctx.shard, "path", None) is not None:
            raise BadRequest(f"[nested] queries on the objects of a nested field inside another "
                             f"nested field are not supported by the embedded engine (path "
                             f"[{self.path}])")
        for knn, own in self._own_prefilters:
            del knn.prefilters[own:]
        child = level_context(ctx, level)
        matches = object_matches(child, self.query.compile(child))
        if self.inner_hits is not None:
            self.inner_hits.matches[id(ctx)] = matches
        return root_query(ctx, {root: self._score(objects) for root, objects in
                                matches.items()}, self.boost)

    def _on_chunks(self, ctx: QueryContext, owner: str) -> tantivy.Query:
        """The query on the chunks of semantic_text field `owner` (query/semantic_chunks)."""
        from .semantic_chunks import chunk_matches

        if self.inner_hits is not None:
            raise BadRequest(f"[inner_hits] of [nested] queries on the chunks of semantic_text "
                             f"field [{owner}] are not supported by the embedded engine")
        matches = chunk_matches(ctx, owner, self.query)
        return root_query(ctx, {root: self._score(chunks) for root, chunks in matches.items()},
                          self.boost)

    def _score(self, objects: list[tuple[float, int]]) -> float:
        scores = [score for score, _ in objects]
        if self.score_mode == "none":
            return 0.0
        if self.score_mode == "max":
            return max(scores)
        if self.score_mode == "min":
            return min(scores)
        total = sum(scores)
        return total if self.score_mode == "sum" else total / len(scores)

    def knn_nodes(self) -> list[QueryNode]:
        return self.query.knn_nodes()

    def describe(self, ctx: QueryContext) -> str:
        return f"ToParentBlockJoinQuery ({self.path})"

