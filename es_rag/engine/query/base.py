"""What every query clause shares: the compile context, the node interface, common parsing."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import tantivy

from ..errors import BadRequest, ParsingError
from ..index.fulltext import KEY, field_kind
from ..index.mapping import FieldSpec, Mapping
from ..index.similarity import Similarity, field_similarity, index_similarities
from ..limits import current as current_limits
from .explanation import Explanation, explain_compiled

if TYPE_CHECKING:
    from ..index.shard import Shard
    from ..security.fls import FieldAccess
    from ..storage.docstore import StoredDoc

_MAX_REGEX_STATES = 1000  # tantivy's automaton size limit (Lucene's default is 10000)


@dataclass
class QueryContext:
    """What a query needs to compile against one index."""

    mapping: Mapping
    shard: Shard
    schema: tantivy.Schema
    alias_filter: tantivy.Query | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    compiled_cache: dict[int, tantivy.Query] = field(default_factory=dict)
    clauses: int = 0
    similarity_cache: dict[str, int] = field(default_factory=dict)
    _similarities: dict[str, Similarity] | None = None
    parent: QueryContext | None = None  # the root documents' context of a nested level's
    levels: dict[str, QueryContext] = field(default_factory=dict)  # nested path → its context
    fields: FieldAccess | None = None  # field-level security: the fields the reader sees

    def source_of(self, doc: StoredDoc) -> dict[str, Any]:
        """A stored document's `_source` as the reader sees it (hidden fields removed)."""
        source = doc.source_json()
        return source if self.fields is None else self.fields.filter_source(source)

    def similarity(self, path: str) -> Similarity:
        """The similarity `path` is scored with (its mapping's, the index's `default`, BM25)."""
        if self._similarities is None:
            self._similarities = index_similarities(self.settings)
        spec = self.spec(path)
        name = spec.params.get("similarity") if spec is not None and \
            spec.type in ("text", "keyword", "match_only_text") else None
        return field_similarity(name, self._similarities)

    def add_clauses(self, count: int) -> None:
        """Count clauses of the query being built (every bool clause, every term a full-text
        clause expands to); beyond `indices.query.bool.max_clause_count` the search is refused
        as Elasticsearch refuses it."""
        self.clauses += count
        limit = current_limits().max_clause_count
        if self.clauses > limit:
            raise too_many_clauses(limit)

    def regex_query(self, name: str, path: str, value: str, pattern: str) -> tantivy.Query:
        """A tantivy regex query for a `name` clause (`wildcard`, `prefix`, ...) whose user
        `value` became `pattern`; `index.max_regex_length` bounds the value, and a pattern
        whose automaton is too large is a 400, as in Elasticsearch."""
        limit = int(self.settings.get("index.max_regex_length", 1000))
        if len(value) > limit:
            raise query_shard_error(
                f"The length of regex [{len(value)}] used in the Regexp Query request has "
                f"exceeded the allowed maximum of [{limit}]. This maximum can be set by "
                f"changing the [index.max_regex_length] index level setting.", self.index_name)
        try:
            return tantivy.Query.regex_query(self.schema, path, pattern)
        except ValueError as err:
            raise query_shard_error(
                f"Determinizing the [{name}] pattern [{value}] on field [{path}] would result in "
                f"more than [{_MAX_REGEX_STATES}] states; use a simpler pattern",
                self.index_name) from err

    def compiled(self, node: QueryNode) -> tantivy.Query:
        """A clause compiled once per search (explanations of a page reuse it)."""
        query = self.compiled_cache.get(id(node))
        if query is None:
            query = self.compiled_cache[id(node)] = node.compile(self)
        return query

    @property
    def index_name(self) -> str:
        return str(self.settings.get("index.provided_name", self.shard.root.name))

    def require_mapped(self, path: str) -> None:
        """Refuse an unmapped field when `index.query.parse.allow_unmapped_fields` is false."""
        if self.spec(path) is None and \
                self.settings.get("index.query.parse.allow_unmapped_fields") == "false":
            raise BadRequest(f"No field mapping can be found for the field with name [{path}]",
                             error_type="query_shard_exception", index=self.index_name)

    def spec(self, path: str) -> FieldSpec | None:
        spec = self.mapping.fields.get(path)
        if spec is None or spec.type in ("object", "nested"):
            return None
        return spec

    def kind(self, path: str) -> str | None:
        """How the field is held in tantivy, or None when it is unmapped/not indexed."""
        spec = self.spec(path)
        if spec is None:
            return None
        kind = field_kind(spec)
        return kind if kind in self.shard.fulltext.kinds.values() and \
            self.shard.fulltext.kinds.get(path) == kind else None

    def expand_fields(self, pattern: str) -> list[str]:
        """Mapped leaf fields matching a name that may contain `*`."""
        if "*" not in pattern:
            return [pattern]
        regex = re.compile(re.escape(pattern).replace(r"\*", ".*"))
        return [p for p, s in self.mapping.fields.items()
                if s.type in ("text", "keyword", "match_only_text") and regex.fullmatch(p)]


class QueryNode:
    """A parsed query clause; compiles to a tantivy query per index."""

    name: str = ""
    boost: float = 1.0
    query_name: str | None = None

    def open(self, body: Any, keys: Iterable[str] = ()) -> dict[str, Any]:
        """The opening every clause whose body is an object shares, as Elasticsearch's
        `AbstractQueryBuilder` parses it: the body must be an object holding only `keys`,
        `boost` and `_name`; sets `boost` and `query_name`, and returns the body."""
        body = expect_object(self.name, body)
        check_keys(self.name, body, {*keys, "boost", "_name"})
        self.boost = as_float(self.name, body.get("boost", 1.0))
        self.query_name = body.get("_name")
        return body

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        """The tantivy query for this clause on one index (scores as Elasticsearch's)."""
        raise NotImplementedError

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        """Analyzed terms this clause looks for in a field (for highlighting)."""
        return set()

    def highlight_patterns(self, ctx: QueryContext, path: str) -> list[re.Pattern[str]]:
        """Patterns of the terms this clause looks for in a field (prefix, wildcard, regexp
        clauses), for highlighting; by default its sub-clauses'."""
        return [p for child in self.children() for p in child.highlight_patterns(ctx, path)]

    def describe(self, ctx: QueryContext) -> str:
        """The clause as Lucene prints its query (the text of constant-score explanations)."""
        return self.name

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        """How this clause scores the document at `address` (None when it does not match);
        `boost` is the product of the enclosing clauses' boosts, folded into the leaves as
        Lucene does."""
        return explain_compiled(ctx, ctx.compiled(self), address, boost, self.describe(ctx))

    def knn_nodes(self) -> list[QueryNode]:
        """Nested knn clauses (they need a vector search before compiling)."""
        return []

    def children(self) -> list[QueryNode]:
        """Direct sub-clauses (for named queries)."""
        return []

    def min_matches(self, ctx: QueryContext) -> int:
        """A lower bound of the number of matching documents (0 when unknown); it lets a
        search report `"relation": "gte"` without counting every match, as Elasticsearch
        stops counting at `track_total_hits`."""
        return 0


def keyed_scores(schema: tantivy.Schema, scored: Iterable[tuple[int, float]]) -> tantivy.Query:
    """Documents given by key, each with its own constant score (a clause scored outside
    tantivy joins the query this way, as the kNN clause does)."""
    clauses = [(tantivy.Occur.Should, tantivy.Query.const_score_query(
        tantivy.Query.term_query(schema, KEY, key), score)) for key, score in scored]
    return tantivy.Query.boolean_query(clauses) if clauses else tantivy.Query.empty_query()


def boosted(query: tantivy.Query, boost: float) -> tantivy.Query:
    """Multiply scores by a boost (no wrapper for 1.0)."""
    return query if boost == 1.0 else tantivy.Query.boost_query(query, float(boost))


def constant(query: tantivy.Query, boost: float) -> tantivy.Query:
    """A constant-score query (term-level queries on numbers, ranges, exists, ids...)."""
    return tantivy.Query.const_score_query(query, float(boost))


INDEX_FIELD = "_index"


def index_field_query(ctx: QueryContext, accepts: Callable[[str], bool], boost: float
                      ) -> tantivy.Query:
    """A query on the `_index` metadata field: every document of this index when its name is
    accepted, else none, at a constant score (as IndexFieldMapper's queries)."""
    if accepts(ctx.index_name):
        return constant(tantivy.Query.all_query(), boost)
    return tantivy.Query.empty_query()


def expect_object(name: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ParsingError(f"[{name}] query malformed, no start_object after query name")
    return body


def single_field(name: str, body: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
    """Split `{"field": value_or_object, "boost": ..}` as the single-field queries accept it."""
    opts = {k: v for k, v in body.items() if k in ("boost", "_name")}
    fields = [k for k in body if k not in ("boost", "_name")]
    if len(fields) != 1:
        if not fields:
            raise ParsingError(f"No field specified for {name} query")
        raise ParsingError(f"[{name}] query doesn't support multiple fields, found "
                           f"[{fields[0]}] and [{fields[1]}]")
    return fields[0], body[fields[0]], opts


def check_keys(name: str, body: dict[str, Any], allowed: set[str]) -> None:
    for key in body:
        if key not in allowed:
            raise ParsingError(f"[{name}] query does not support [{key}]")


def as_float(name: str, value: Any, key: str = "boost") -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise ParsingError(f"[{name}] failed to parse field [{key}]") from err


def minimum_should_match(spec: Any, optional: int) -> int:
    """How many optional clauses must match for an ES `minimum_should_match` value."""
    if spec is None:
        return 0
    text = str(spec).strip()
    if "<" in text:
        result = optional
        for part in text.split():
            limit, value = part.split("<", 1)
            if optional > int(limit):
                result = minimum_should_match(value, optional)
        return result
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            count = int(math.floor(optional * abs(pct) / 100.0))
            result = optional - count if pct < 0 else count
        else:
            number = int(text)
            result = optional + number if number < 0 else number
    except ValueError as err:
        raise BadRequest(f"failed to parse minimum_should_match [{spec}]") from err
    return max(0, min(result, optional))


def too_many_clauses(limit: int) -> BadRequest:
    """Elasticsearch's 400 for a query beyond `indices.query.bool.max_clause_count`."""
    return BadRequest("Query rewrite failed: too many clauses", caused_by={
        "type": "too_many_nested_clauses",
        "reason": f"Query contains too many nested clauses; maxClauseCount is set to {limit}"})


def query_shard_error(reason: str, index: str) -> BadRequest:
    """The 400 Elasticsearch gives when a query cannot be built for a field."""
    return BadRequest(f"failed to create query: {reason}", error_type="query_shard_exception",
                      index=index)


def term_value(ctx: QueryContext, path: str, kind: str, value: Any) -> Any:
    """A query value converted to the type tantivy holds for the field."""
    from ..dates import parse_date, parse_date_nanos
    from ..index.analysis import join_word_chars

    if isinstance(value, dict | list):
        raise ParsingError(f"[term] query does not support array of values for field [{path}]")
    try:
        if kind in ("text", "keyword"):
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            spec = ctx.spec(path)
            return join_word_chars(text) if spec is not None and spec.type == "text" else text
        if kind == "int":
            spec = ctx.spec(path)
            if spec is not None and spec.type == "date_nanos":
                return parse_date_nanos(value, spec.date_format)
            if spec is not None and spec.type == "date":
                return parse_date(value, spec.date_format)
            number = float(value)
            return int(number) if number.is_integer() else None
        if kind == "float":
            return float(value)
        if value in (True, "true"):
            return True
        if value in (False, "false"):
            return False
        raise ValueError(f"Can't parse boolean value [{value}], expected [true] or [false]")
    except (TypeError, ValueError) as err:
        reason = str(err) if kind in ("bool", "int") and "parse" in str(err) else \
            f'For input string: "{value}"'
        raise query_shard_error(reason, ctx.index_name) from err
