"""The `knn` query clause: approximate nearest neighbours on a dense_vector field."""

from __future__ import annotations

import math
from typing import Any

import tantivy

from ..errors import BadRequest, ParsingError, XContentParseError
from ..index.fulltext import KEY
from ..index.mapping.mapper import signed_bytes
from .base import (
    QueryContext,
    QueryNode,
    as_float,
    check_keys,
    expect_object,
    query_shard_error,
)
from .explanation import Explanation, f32, tantivy_tree, within_top_k
from .nested import parse_inner_hits

KNN_KEYS = {"field", "query_vector", "k", "num_candidates", "filter", "similarity", "boost",
            "_name", "query_vector_builder", "inner_hits", "rescore_vector"}


class KnnSpec:
    """A validated knn request (the top-level `knn` section, a knn retriever, a knn query)."""

    def __init__(self, body: Any, *, where: str = "knn", require_k: bool = False) -> None:
        from .registry import parse_query

        body = expect_object(where, body)
        check_keys(where, body, KNN_KEYS)
        if "field" not in body:
            raise ParsingError(f"[{where}] failed to parse: [field] is required",
                               error_type="x_content_parse_exception")
        if "query_vector" in body and body.get("query_vector_builder") is not None:
            raise BadRequest("cannot provide both [query_vector] and [query_vector_builder]")
        self.field = str(body["field"])
        # (model_id, model_text) of a `text_embedding` builder; the search service embeds it
        self.builder: tuple[str | None, str] | None = None
        self.vector: list[float] | None = None
        self.from_hex = False
        if body.get("query_vector_builder") is not None:
            self.builder = _text_embedding_builder(body["query_vector_builder"])
        elif isinstance(body.get("query_vector"), str):  # hex-encoded bytes (8.13+)
            try:
                self.vector = [float(b) for b in signed_bytes(body["query_vector"])]
            except ValueError as err:
                raise ParsingError(f"[{where}] failed to parse field [query_vector]") from err
            self.from_hex = True
        elif "query_vector" in body:
            vector = body["query_vector"]
            if not isinstance(vector, list) or \
                    not all(isinstance(v, int | float) for v in vector):
                raise ParsingError(f"[{where}] failed to parse field [query_vector]")
            self.vector = [float(v) for v in vector]
        else:
            raise ParsingError("either [query_vector] or [query_vector_builder] must be "
                               "provided", error_type="illegal_argument_exception")
        self.k_given = body.get("k") is not None
        self.nc_given = body.get("num_candidates") is not None
        if not self.k_given and require_k:
            raise ParsingError(f"[{where}] failed to parse: [k] is required")
        k = int(body["k"]) if self.k_given else None
        nc = int(body["num_candidates"]) if self.nc_given else None
        if k is not None and k < 1:
            raise BadRequest("[k] must be greater than 0")
        if k is not None and nc is not None and nc < k:
            raise BadRequest("[num_candidates] cannot be less than [k]")
        if nc is not None and nc > 10000:
            raise BadRequest("[num_candidates] cannot exceed [10000]")
        self.apply_size(k if k is not None else 10, nc)
        flt = body.get("filter", [])
        self.filter_bodies = flt if isinstance(flt, list) else [flt]
        self.filters = [parse_query(f) for f in self.filter_bodies]
        self.similarity = body.get("similarity")
        self.boost = as_float(where, body.get("boost", 1.0))
        self.name = body.get("_name")
        # name "" until the search knows the field's nested path (the default name)
        self.inner_hits = None if body.get("inner_hits") is None else \
            parse_inner_hits(body["inner_hits"], "")

    def apply_size(self, k: int, num_candidates: int | None = None) -> None:
        """Set k (the request `size` when not given) and the default num_candidates."""
        self.k = k
        self.num_candidates = num_candidates if num_candidates is not None else \
            min(max(math.ceil(1.5 * k), k), 10000)


def _text_embedding_builder(body: Any) -> tuple[str | None, str]:
    """`{"text_embedding": {"model_id", "model_text"}}`, the one builder Elasticsearch has
    (the model runs when the search starts)."""
    if not isinstance(body, dict) or len(body) != 1:
        raise XContentParseError("[knn] failed to parse field [query_vector_builder]")
    [(name, options)] = body.items()
    if name != "text_embedding":
        raise XContentParseError(f"[knn] unknown query_vector_builder [{name}]")
    if not isinstance(options, dict):
        raise XContentParseError("[text_embedding] must be an object")
    unknown = sorted(set(options) - {"model_id", "model_text"})
    if unknown:
        raise XContentParseError(f"[text_embedding] unknown field [{unknown[0]}]")
    if options.get("model_text") is None:
        raise XContentParseError("Required [model_text]")
    if not all(isinstance(options.get(key, ""), str) for key in ("model_id", "model_text")):
        raise XContentParseError("[text_embedding] [model_id] and [model_text] must be "
                                 "strings")
    # model_id may be left out on a semantic_text field (its search inference endpoint)
    return options.get("model_id"), options["model_text"]


class KnnQuery(QueryNode):
    """`knn` inside `query`: top num_candidates neighbours, the bool's filters as pre-filters.

    The vector search runs when the clause compiles; its hits become constant-score matches
    on the document keys, so the scores combine with the other clauses as in Elasticsearch.
    """

    name = "knn"

    def __init__(self, body: Any) -> None:
        try:
            self.spec = KnnSpec(body, where="knn")
        except BadRequest as err:
            raise XContentParseError("[knn] failed to parse", caused_by=err.cause()) from err
        self.prefilters: list[QueryNode] = []
        self.boost = self.spec.boost
        self.query_name = self.spec.name

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        from ..search.knn import knn_search, per_shard_knn

        spec = self.spec
        k = spec.k if spec.k_given else spec.num_candidates if spec.nc_given else spec.k
        if ctx.parent is None and int(ctx.settings.get("index.number_of_shards", 1)) > 1:
            hits = per_shard_knn(ctx, spec, self.prefilters, k)
        else:
            hits = knn_search(ctx, spec, extra_filters=self.prefilters, k=k)
        if not hits:
            return tantivy.Query.empty_query()
        subs = [(tantivy.Occur.Should, tantivy.Query.const_score_query(
            tantivy.Query.term_query(ctx.schema, KEY, key), score * spec.boost))
            for key, score in hits]
        return tantivy.Query.boolean_query(subs)

    def knn_nodes(self) -> list[QueryNode]:
        return [self]

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        tree = tantivy_tree(ctx, ctx.compiled(self), address)
        return None if tree is None else within_top_k(f32(tree["value"] * boost))


VECTOR_SIMILARITY_KEYS = ("field", "query_vector", "num_candidates", "similarity")


class VectorSimilarityQuery(QueryNode):
    """`vector_similarity`: the `num_candidates` nearest neighbours of `query_vector` (no
    pre-filter), kept when their score reaches the score of the `similarity` threshold, as
    Elasticsearch's VectorSimilarityQuery (a knn query under a minimum score); a match scores
    its vector score times `boost`."""

    name = "vector_similarity"

    def __init__(self, body: Any) -> None:
        body = self.open(body, VECTOR_SIMILARITY_KEYS)
        for key in VECTOR_SIMILARITY_KEYS:
            if body.get(key) is None:
                raise XContentParseError(f"[{self.name}_parser] failed to parse: "
                                         f"Required [{key}]")
        vector = body["query_vector"]
        if not isinstance(vector, list) or \
                not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vector):
            raise XContentParseError(f"[{self.name}_parser] failed to parse field "
                                     f"[query_vector]")
        num_candidates = body["num_candidates"]
        if isinstance(num_candidates, bool) or not isinstance(num_candidates, int | str):
            raise XContentParseError(f"[{self.name}_parser] failed to parse field "
                                     f"[num_candidates]")
        try:
            num_candidates = int(num_candidates)
        except ValueError as err:
            raise XContentParseError(f"[{self.name}_parser] failed to parse field "
                                     f"[num_candidates]") from err
        if num_candidates <= 0:
            raise BadRequest("[num_candidates] must be greater than 0",
                             error_type="illegal_argument_exception")
        self.threshold = as_float(self.name, body["similarity"], "similarity")
        self.spec = KnnSpec({"field": body["field"], "query_vector": vector,
                             "k": num_candidates, "num_candidates": num_candidates},
                            where=self.name)

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        from ..search.knn import knn_search

        field_spec = ctx.spec(self.spec.field)
        if field_spec is None:
            raise query_shard_error(f"field [{self.spec.field}] does not exist in the mapping",
                                    ctx.index_name)
        if field_spec.type != "dense_vector":
            raise query_shard_error(f"[{self.name}] queries are only supported on "
                                    f"[dense_vector] fields", ctx.index_name)
        min_score = _min_score(field_spec.params.get("similarity", "cosine"), self.threshold)
        hits = knn_search(ctx, self.spec, k=self.spec.k)
        subs = [(tantivy.Occur.Should, tantivy.Query.const_score_query(
            tantivy.Query.term_query(ctx.schema, KEY, key), score * self.boost))
            for key, score in hits if score >= min_score]
        return tantivy.Query.boolean_query(subs) if subs else tantivy.Query.empty_query()

    def describe(self, ctx: QueryContext) -> str:
        return f"VectorSimilarityQuery[similarity={self.threshold}]"


def _min_score(similarity: str, threshold: float) -> float:
    """The score a `vector_similarity` threshold stands for (VectorSimilarity.score of the
    release that serves the query: l2_norm compares the squared distance, as Lucene's
    EUCLIDEAN score 1/(1+d²); cosine and dot_product the raw similarity)."""
    if similarity == "l2_norm":
        return f32(1.0 / (1.0 + threshold))
    if similarity == "max_inner_product":
        return f32(1.0 / (1.0 - threshold) if threshold < 0 else threshold + 1.0)
    return f32((1.0 + threshold) / 2.0)
