"""Search request bodies for each retrieval path, as plain Elasticsearch DSL dicts.

Filters go inside every leg (the BM25 `bool.filter`, the kNN `filter`), never after retrieval.
The kNN leg takes a `VectorQuery`: the query's vector, or a `query_vector_builder` body with
which the cluster embeds the query itself (embedding = cluster).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from es_rag.retrieve.filters import filter_clauses
from es_rag.retrieve.hits import Hit
from es_rag.retrieve.params import LEGS, TIE_BREAKER, SearchParams

VECTOR_FIELD = "embedding"
SOURCE_EXCLUDES = {"excludes": [VECTOR_FIELD]}

VectorQuery = Sequence[float] | Mapping[str, Any]
"""A query vector, or a `query_vector_builder` (e.g. `{"text_embedding": {...}}`)."""


def vector_source(query: VectorQuery) -> dict[str, Any]:
    """`{"query_vector": [...]}` or `{"query_vector_builder": {...}}` for a kNN clause."""
    if isinstance(query, Mapping):
        return {"query_vector_builder": dict(query)}
    return {"query_vector": list(query)}


def bm25_query(query_text: str, params: SearchParams) -> dict[str, Any]:
    """multi_match best_fields (with `TIE_BREAKER`) over the boosted text fields, with the filters
    in `bool.filter`."""
    match = {"multi_match": {
        "query": query_text,
        "type": "best_fields",
        "tie_breaker": TIE_BREAKER,
        "fields": [f"{name}^{boost:g}" for name, boost in params.boosts.items()],
    }}
    if not params.filters:
        return match
    return {"bool": {"must": [match], "filter": filter_clauses(params.filters)}}


def knn_clause(vector: VectorQuery, params: SearchParams) -> dict[str, Any]:
    """The kNN search (top-level `knn` or `knn` retriever) with the filters in its `filter`."""
    k = params.rank_window_size if params.mode.is_hybrid else max(params.k, params.size)
    clause: dict[str, Any] = {
        "field": VECTOR_FIELD,
        **vector_source(vector),
        "k": k,
        "num_candidates": max(params.num_candidates, k),
    }
    if params.filters:
        clause["filter"] = {"bool": {"filter": filter_clauses(params.filters)}}
    if params.similarity is not None:
        clause["similarity"] = params.similarity
    return clause


class Layout(Protocol):
    """What an index looks like to search: its lexical query, its kNN clause, what its hits
    return and how they become passages. `ChunkLayout` is es-rag's own chunk index; a source
    (an existing index, `es_rag.sources`) brings its own."""

    name: str
    has_vectors: bool

    def bm25_query(self, query_text: str, params: SearchParams) -> dict[str, Any]: ...

    def knn_clause(self, vector: VectorQuery, params: SearchParams) -> dict[str, Any]: ...

    def finish(self, body: dict[str, Any], query_text: str,
               params: SearchParams) -> dict[str, Any]: ...

    def hits(self, response: Mapping[str, Any]) -> list[Hit]: ...


class ChunkLayout:
    """es-rag's chunk index (`mappings/chunks.json`): text, title, headings and `embedding`."""

    name = "chunks"
    has_vectors = True

    def bm25_query(self, query_text: str, params: SearchParams) -> dict[str, Any]:
        return bm25_query(query_text, params)

    def knn_clause(self, vector: VectorQuery, params: SearchParams) -> dict[str, Any]:
        return knn_clause(vector, params)

    def finish(self, body: dict[str, Any], query_text: str,
               params: SearchParams) -> dict[str, Any]:
        body["_source"] = SOURCE_EXCLUDES
        if params.highlight:
            # highlight_query lets kNN-only hits be highlighted with the query's terms too
            body["highlight"] = {
                "fields": {"text": {}, "title": {}},
                "highlight_query": {"multi_match": {"query": query_text,
                                                    "fields": list(params.boosts)}},
            }
        return body

    def hits(self, response: Mapping[str, Any]) -> list[Hit]:
        return [Hit.from_es(raw) for raw in response["hits"]["hits"]]


CHUNKS = ChunkLayout()


class SemanticChunkLayout(ChunkLayout):
    """The chunk index with embedding = semantic_text: the vector leg is a `semantic` query on
    the semantic_text copy of `text` (the cluster embeds the query); hits stay es-rag's
    chunks, with their offsets."""

    semantic = True

    def __init__(self, field: str) -> None:
        self.field = field

    def semantic_query(self, query_text: str, params: SearchParams) -> dict[str, Any]:
        semantic = {"semantic": {"field": self.field, "query": query_text}}
        if not params.filters:
            return semantic
        return {"bool": {"must": [semantic], "filter": filter_clauses(params.filters)}}

    def finish(self, body: dict[str, Any], query_text: str,
               params: SearchParams) -> dict[str, Any]:
        body = super().finish(body, query_text, params)
        body["_source"] = {"excludes": [VECTOR_FIELD, self.field]}
        return body


def reranked(body: dict[str, Any], query_text: str, inference_id: str, window: int,
             field: str = "text") -> dict[str, Any]:
    """The retriever of `body` wrapped in a `text_similarity_reranker` that rescores its top
    `window` hits with the `rerank` endpoint `inference_id`, on `field`'s text."""
    body["retriever"] = {"text_similarity_reranker": {
        "retriever": body["retriever"], "field": field, "inference_id": inference_id,
        "inference_text": query_text, "rank_window_size": window}}
    return body


def _finish(body: dict[str, Any], query_text: str, params: SearchParams, size: int,
            layout: Layout) -> dict[str, Any]:
    body["size"] = size
    return layout.finish(body, query_text, params)


def bm25_body(query_text: str, params: SearchParams, size: int | None = None,
              layout: Layout = CHUNKS) -> dict[str, Any]:
    """A BM25 search (also the BM25 leg of hybrid search)."""
    return _finish({"query": layout.bm25_query(query_text, params)}, query_text, params,
                   size or params.size, layout)


def _semantic(layout: Layout, query_text: str, params: SearchParams) -> dict[str, Any] | None:
    """The `semantic` query of a layout whose vector leg is one (a semantic_text field)."""
    if not getattr(layout, "semantic", False):
        return None
    return layout.semantic_query(query_text, params)  # type: ignore[attr-defined]


def knn_body(query_text: str, vector: VectorQuery, params: SearchParams,
             size: int | None = None, layout: Layout = CHUNKS) -> dict[str, Any]:
    """A kNN search (also the kNN leg of hybrid search); a `semantic` query for semantic_text."""
    semantic = _semantic(layout, query_text, params)
    body = {"query": semantic} if semantic else {"knn": layout.knn_clause(vector, params)}
    return _finish(body, query_text, params, size or params.size, layout)


def _legs(query_text: str, vector: VectorQuery, params: SearchParams,
          layout: Layout) -> list[dict[str, Any]]:
    """The lexical and vector retrievers, in `params.weights` order (bm25, knn): a standard
    retriever over the layout's BM25 query, and a knn retriever (a standard one over the
    `semantic` query for semantic_text)."""
    semantic = _semantic(layout, query_text, params)
    return [{"standard": {"query": layout.bm25_query(query_text, params)}},
            {"standard": {"query": semantic}} if semantic
            else {"knn": layout.knn_clause(vector, params)}]


def retriever_body(query_text: str, vector: VectorQuery, params: SearchParams,
                   layout: Layout = CHUNKS) -> dict[str, Any]:
    """Hybrid search with the `rrf` retriever over a standard and a knn retriever (ES 8.14+);
    weighted legs use the `{retriever, weight}` components of 9.2+."""
    legs: list[dict[str, Any]] = _legs(query_text, vector, params, layout)
    if params.weighted:
        legs = [{"retriever": leg, "weight": params.weights[name]}
                for leg, name in zip(legs, LEGS, strict=True)]
    body = {"retriever": {"rrf": {
        "retrievers": legs,
        "rank_constant": params.rank_constant,
        "rank_window_size": params.rank_window_size,
    }}}
    return _finish(body, query_text, params, params.fetch_size, layout)


def linear_body(query_text: str, vector: VectorQuery, params: SearchParams,
                layout: Layout = CHUNKS) -> dict[str, Any]:
    """Hybrid search with the `linear` retriever (8.18/9.0+): each leg weighted and normalized."""
    legs = [{"retriever": leg, "weight": params.weights[name], "normalizer": params.normalizer}
            for leg, name in zip(_legs(query_text, vector, params, layout), LEGS, strict=True)]
    body = {"retriever": {"linear": {"retrievers": legs,
                                     "rank_window_size": params.rank_window_size}}}
    return _finish(body, query_text, params, params.fetch_size, layout)


def rank_rrf_body(query_text: str, vector: VectorQuery, params: SearchParams, *,
                  window_key: str = "rank_window_size",
                  layout: Layout = CHUNKS) -> dict[str, Any]:
    """Hybrid search with the older `rank.rrf` form (8.8+); before 8.14 the key is `window_size`."""
    body = {
        "query": layout.bm25_query(query_text, params),
        "knn": layout.knn_clause(vector, params),
        "rank": {"rrf": {"rank_constant": params.rank_constant,
                         window_key: params.rank_window_size}},
    }
    return _finish(body, query_text, params, params.fetch_size, layout)


def leg_bodies(query_text: str, vector: VectorQuery, params: SearchParams,
               layout: Layout = CHUNKS) -> list[dict[str, Any]]:
    """The BM25 and kNN legs of hybrid search, each returning its top `rank_window_size`."""
    size = params.rank_window_size
    return [bm25_body(query_text, params, size, layout),
            knn_body(query_text, vector, params, size, layout)]


TEMPLATE_BOOSTS = {"text": "text_boost", "title": "title_boost", "headings": "headings_boost"}


def template_params(query_text: str, params: SearchParams,
                    vector: VectorQuery | None = None) -> dict[str, Any]:
    """Parameters for the stored templates in `templates/search/` that mean the same search.

    A `query_vector_builder` for `vector` becomes the `model_id` parameter: the kNN templates
    then have the cluster embed `query` with that model instead of taking `query_vector`.

    >>> template_params("rrf", SearchParams(mode="bm25", size=5))["title_boost"]
    1.0
    """
    unknown = set(params.boosts) - set(TEMPLATE_BOOSTS)
    if unknown:
        raise ValueError(f"the search templates cannot boost {', '.join(sorted(unknown))} "
                         f"(template boosts: {', '.join(TEMPLATE_BOOSTS)})")
    out: dict[str, Any] = {"query": query_text, "size": params.fetch_size,
                           "filters": filter_clauses(params.filters),
                           "rank_constant": params.rank_constant,
                           "rank_window_size": params.rank_window_size}
    out.update({TEMPLATE_BOOSTS[name]: boost for name, boost in params.boosts.items()})
    if vector is not None:
        clause = knn_clause(vector, params)
        out.update(k=clause["k"], num_candidates=clause["num_candidates"])
        if "query_vector" in clause:
            out["query_vector"] = clause["query_vector"]
        else:
            out["model_id"] = template_model_id(clause["query_vector_builder"])
    return out


def template_model_id(builder: Mapping[str, Any]) -> str:
    """The model of a `text_embedding` query_vector_builder: the templates' `model_id` param."""
    try:
        return str(builder["text_embedding"]["model_id"])
    except (KeyError, TypeError):
        raise ValueError("the search templates build query vectors with text_embedding only, "
                         f"not {sorted(builder)}") from None
