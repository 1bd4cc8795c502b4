"""Query clauses over semantic_text fields: `semantic`, `sparse_vector` (on semantic_text and
sparse_vector fields), and the `match`/`knn` rewrites Elasticsearch 8.18+ applies when their
field is a semantic_text field. Query texts are embedded through the field's
`search_inference_id` (or the clause's own `inference_id`) once per request."""

from __future__ import annotations

from typing import Any

import tantivy

from ..errors import BadRequest, ParsingError
from ..index.mapping import FieldSpec
from ..index.mapping.semantic_text import search_inference_id
from ..inference.context import current
from .base import QueryContext, QueryNode, query_shard_error
from .chunk_scores import as_query, candidate_keys, dims_of, load, score


def semantic_text_query(ctx: QueryContext, path: str, spec: FieldSpec, text: str | None,
                        boost: float, *, inference_id: str | None = None, vector: Any = None,
                        filters: list[tantivy.Query] = (), k: int | None = None
                        ) -> tantivy.Query:
    """Documents of one index scored by their best chunk of `path` against the embedding of
    `text` (or a given dense/sparse `vector`)."""
    if vector is None:
        _, vector = current().embed(inference_id or search_inference_id(spec.params), str(text))
    entries = load(ctx, path, candidate_keys(ctx, path, list(filters)))
    if isinstance(vector, list):
        dims = dims_of(entries)
        if dims is not None and dims != len(vector):
            raise query_shard_error(f"The query vector has a different number of dimensions "
                                    f"[{len(vector)}] than the document vectors [{dims}].",
                                    ctx.index_name)
    hits = score(entries, vector)
    return as_query(ctx, hits[:k] if k else hits, boost)


class SemanticQuery(QueryNode):
    """`semantic`: `{field, query}` on a semantic_text field."""

    name = "semantic"

    def __init__(self, body: Any) -> None:
        body = self.open(body, ("field", "query", "lenient"))
        for key in ("field", "query"):
            if body.get(key) is None:
                raise BadRequest(f"[semantic] requires a {key} value")
        self.field, self.text = str(body["field"]), str(body["query"])
        self.lenient = body.get("lenient") is True

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        spec = ctx.mapping.fields.get(self.field)
        if spec is None:
            return tantivy.Query.empty_query()
        if spec.type != "semantic_text":
            if self.lenient:
                return tantivy.Query.empty_query()
            raise query_shard_error(f"Field [{self.field}] of type [{spec.type}] is not "
                                    f"supported for [semantic] query", ctx.index_name)
        return semantic_text_query(ctx, self.field, spec, self.text, self.boost)

    def describe(self, ctx: QueryContext) -> str:
        return f"semantic({self.field}:{self.text})"


class SparseVectorQuery(QueryNode):
    """`sparse_vector`: weighted tokens (given, or inferred from `query`) against a
    sparse_vector field or a semantic_text field's sparse chunks."""

    name = "sparse_vector"

    def __init__(self, body: Any) -> None:
        body = self.open(body, ("field", "query_vector", "inference_id", "query", "prune",
                                "pruning_config"))
        if body.get("field") is None:
            raise ParsingError("[sparse_vector] requires a [field]")
        self.field = str(body["field"])
        self.vector = body.get("query_vector")
        self.inference_id = body.get("inference_id")
        self.text = body.get("query")
        if self.vector is None and self.text is None:
            raise BadRequest("[sparse_vector] requires one of [query_vector] or "
                             "[inference_id]")
        if self.vector is not None and (self.text is not None or self.inference_id is not None):
            raise BadRequest("[sparse_vector] requires one of [query_vector] or "
                             "[inference_id], not both")
        if self.vector is not None and (not isinstance(self.vector, dict) or not all(
                isinstance(v, int | float) for v in self.vector.values())):
            raise ParsingError("[sparse_vector] failed to parse field [query_vector]")
        if self.inference_id is not None and self.text is None:
            raise BadRequest("[sparse_vector] requires [query] when [inference_id] is "
                             "specified")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        spec = ctx.mapping.fields.get(self.field)
        if spec is None:
            return tantivy.Query.empty_query()
        vector = {str(k): float(v) for k, v in self.vector.items()} if self.vector else None
        if spec.type == "semantic_text":
            return semantic_text_query(ctx, self.field, spec, self.text, self.boost,
                                       inference_id=self.inference_id, vector=vector)
        if spec.type != "sparse_vector":
            raise query_shard_error(f"field [{self.field}] must be type [sparse_vector] but "
                                    f"is type [{spec.type}]", ctx.index_name)
        if vector is None:
            if self.inference_id is None:
                raise BadRequest("inference_id required to perform vector search on query "
                                 "string")
            task, vector = current().embed(self.inference_id, str(self.text))
            if task != "sparse_embedding":
                raise BadRequest(f"expected a result of type [sparse_embedding] from inference "
                                 f"endpoint [{self.inference_id}], got [{task}]")
        return sparse_field_query(ctx, self.field, vector, self.boost)


def sparse_field_query(ctx: QueryContext, path: str, vector: dict[str, float], boost: float
                       ) -> tantivy.Query:
    """Documents of a sparse_vector field scored by the sum of query weight × stored weight
    (a `term` on the field is the one token at weight 1, as FeatureField's linear query)."""
    entries = load(ctx, path, candidate_keys(ctx, path, []), sparse_field=True)
    return as_query(ctx, score(entries, vector), boost)
