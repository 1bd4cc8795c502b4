"""`search()`: BM25, kNN and license-adaptive hybrid search, plus stored search templates.

Hybrid search fuses with RRF (optionally weighted) or a linear combination of normalized scores,
on the path the cluster supports (`Capabilities.fusion_path`): the `rrf` retriever, the older
`rank.rrf` form, the `linear` retriever, or the same fusion done client-side over one `_msearch`
(Basic license, older clusters). A server-side request refused for its license (403) falls back
to the client-side fusion; `explain` records the path and the fallback.
With a `ClusterQueryEmbedder` (embedding = cluster) every kNN leg sends `query_vector_builder`
and the cluster embeds the query.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from elasticsearch import ApiError, Elasticsearch

from es_rag.connect import Capabilities, error_reason
from es_rag.embedding.protocols import ClusterQueryEmbedder, QueryEmbedder
from es_rag.errors import EsRagError
from es_rag.observability import tracing
from es_rag.retrieve import queries
from es_rag.retrieve.defaults import read_stored
from es_rag.retrieve.fusion import linear_fuse, rrf_fuse
from es_rag.retrieve.hits import Hit, SearchResult
from es_rag.retrieve.params import LEGS, Fusion, Mode, SearchParams
from es_rag.retrieve.queries import CHUNKS, Layout, VectorQuery
from es_rag.retrieve.rerank import Reranker, build_reranker

if TYPE_CHECKING:
    from es_rag.retrieve.permissions import Scope

log = logging.getLogger(__name__)
SEMANTIC_LICENSE = "semantic_text inference"  # as Capabilities.license_lacks names them
RERANK_LICENSE = "text_similarity_reranker"


class SearchError(EsRagError, RuntimeError):
    """Elasticsearch refused or failed a search; the message names the index and the reason."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _is_license_refusal(exc: ApiError) -> bool:
    return exc.meta.status == 403 and "license" in error_reason(exc).lower()


def _scope(client: Elasticsearch, caps: Capabilities | None, as_user: str | None,
           client_side_acl_filter: bool) -> Scope | None:
    """The `permissions.Scope` of `as_user`'s search (None when searching as the client)."""
    if not as_user:
        return None
    if caps is None:
        raise ValueError("searching as a user needs the cluster's capabilities (caps=...)")
    from es_rag.retrieve.permissions import permission_scope  # it builds on SearchError

    return permission_scope(client, caps, as_user,
                            client_side_acl_filter=client_side_acl_filter)


def _annotate_legs(hits: Sequence[Hit], bm25: Sequence[Hit], knn: Sequence[Hit]) -> None:
    """Fill the per-leg ranks and scores of `hits` from the two legs' results."""
    bm25_at = {h.chunk_id: (rank, h.score) for rank, h in enumerate(bm25, start=1)}
    knn_at = {h.chunk_id: (rank, h.score) for rank, h in enumerate(knn, start=1)}
    for hit in hits:
        hit.bm25_rank, hit.bm25_score = bm25_at.get(hit.chunk_id, (None, None))
        hit.knn_rank, hit.knn_score = knn_at.get(hit.chunk_id, (None, None))


class _Searcher:
    """One search request's state: the scoped client, the index, timings and explain details.

    With `record`, every request sent is listed in `explain["requests"]` (method, path, body).
    """

    def __init__(self, client: Elasticsearch, index: str, explain: dict[str, Any],
                 record: bool = False, layout: Layout = CHUNKS) -> None:
        self.client = client
        self.index = index
        self.explain = explain
        self.layout = layout
        self.es_took_ms = 0
        self.record = record

    def _sent(self, path: str, body: Any) -> None:
        if self.record:
            self.explain.setdefault("requests", []).append(
                {"method": "POST", "path": path, "body": body})

    def hits(self, response: Mapping[str, Any]) -> list[Hit]:
        return self.layout.hits(response)

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        self._sent(f"/{self.index}/_search", body)
        leg = tracing.leg_name(body)
        with tracing.span(f"es_rag.retrieve.{leg}", es_rag__leg=leg) as sp:
            response = self.client.search(index=self.index, body=body).body
            tracing.record_response(sp, response)
        self.es_took_ms += int(response.get("took") or 0)
        return response

    def legs(self, query_text: str, vector: VectorQuery,
             params: SearchParams) -> tuple[list[Hit], list[Hit]]:
        """Run the BM25 and kNN legs in one `_msearch`; each returns its top rank_window_size."""
        searches: list[dict[str, Any]] = []
        for body in queries.leg_bodies(query_text, vector, params, self.layout):
            searches += [{"index": self.index}, body]
        self._sent("/_msearch", searches)
        with tracing.span("es_rag.retrieve.msearch", es_rag__legs=["bm25", "knn"]) as sp:
            response = self.client.msearch(searches=searches).body
            tracing.record_legs(sp, response)
        self.es_took_ms += int(response.get("took") or 0)
        legs: list[list[Hit]] = []
        for item in response["responses"]:
            if "error" in item:
                error = item["error"]
                reason = (f"{error.get('type')}: {error.get('reason')}"
                          if isinstance(error, dict) else str(error))
                raise SearchError(f"search on {self.index!r} failed: {reason}",
                                  item.get("status"))
            legs.append(self.hits(item))
        return legs[0], legs[1]


def _client_fusion(searcher: _Searcher, query_text: str, vector: VectorQuery,
                   params: SearchParams) -> list[Hit]:
    """The legs over one `_msearch`, fused here as the cluster's retriever would fuse them."""
    bm25, knn = searcher.legs(query_text, vector, params)
    by_id = {h.chunk_id: h for h in knn} | {h.chunk_id: h for h in bm25}
    weights = [params.weights[leg] for leg in LEGS]
    with tracing.span("es_rag.fusion", es_rag__fusion=params.fusion.value):
        if params.fusion is Fusion.LINEAR:
            fused = linear_fuse([[(h.chunk_id, h.score) for h in leg] for leg in (bm25, knn)],
                                weights=weights, normalizer=params.normalizer,
                                rank_window_size=params.rank_window_size)
        else:
            fused = rrf_fuse([[h.chunk_id for h in bm25], [h.chunk_id for h in knn]],
                             rank_constant=params.rank_constant,
                             rank_window_size=params.rank_window_size, weights=weights)
    hits = [replace(by_id[cid], score=score, fused_score=score)
            for cid, score in fused[: params.fetch_size]]
    _annotate_legs(hits, bm25, knn)
    return hits


def _server_fusion(searcher: _Searcher, path: str, caps: Capabilities, query_text: str,
                   vector: VectorQuery, params: SearchParams,
                   rerank_id: str | None = None) -> list[Hit]:
    """Fusion by the cluster's retriever (reranked there by `rerank_id`'s endpoint, with a
    `text_similarity_reranker` around it, when given and the path is a retriever)."""
    if path == "linear_retriever":
        body = queries.linear_body(query_text, vector, params, searcher.layout)
    elif path == "retriever":
        body = queries.retriever_body(query_text, vector, params, searcher.layout)
    else:
        old = (caps.major, caps.minor) < (8, 14)
        body = queries.rank_rrf_body(query_text, vector, params,
                                     window_key="window_size" if old else "rank_window_size",
                                     layout=searcher.layout)
    in_cluster = bool(rerank_id) and "retriever" in body
    if in_cluster:
        definition = getattr(searcher.layout, "definition", None)
        queries.reranked(body, query_text, str(rerank_id), params.fetch_size,
                         getattr(definition, "text_field", None) or "text")
    hits = searcher.hits(searcher.run(body))
    for hit in hits:  # reranked in the cluster, the score is the reranker's (no fused one)
        if in_cluster:
            hit.rerank_score = hit.score
        else:
            hit.fused_score = hit.score
    if in_cluster:
        searcher.explain["rerank"] = {"reranker": "text_similarity_reranker",
                                      "inference_id": rerank_id, "where": "cluster"}
    if params.explain:
        _annotate_legs(hits, *searcher.legs(query_text, vector, params))
    return hits


def _hybrid(searcher: _Searcher, caps: Capabilities, query_text: str,
            vector: VectorQuery, params: SearchParams,
            rerank_id: str | None = None) -> tuple[list[Hit], str]:
    path = caps.fusion_path(params.fusion.value, params.weighted)
    client_path = f"client_{params.fusion.value}"
    if path == "rank_rrf" and getattr(searcher.layout, "semantic", False):
        path = client_path  # rank.rrf fuses a query with knn, not two queries
    if path != client_path:
        try:
            return _server_fusion(searcher, path, caps, query_text, vector, params,
                                  rerank_id), path
        except ApiError as exc:
            if not _is_license_refusal(exc):
                raise
            reason = error_reason(exc)
            log.warning("%s refused by the cluster's license (%s); fusing client-side",
                        path, reason)
            searcher.explain["fallback"] = {"from": path, "reason": reason}
    return _client_fusion(searcher, query_text, vector, params), client_path


def _semantic_unlicensed(layout: Layout, embedder: QueryEmbedder | None, caps: Capabilities,
                         params: SearchParams) -> str | None:
    """Why the chunk index's semantic leg cannot run (its license lacks inference), or None."""
    field = getattr(embedder, "semantic_field", None)
    if layout is not CHUNKS or params.mode is Mode.BM25 or not field or \
            SEMANTIC_LICENSE not in caps.license_lacks:
        return None
    return f"the {caps.license_type} license lacks inference for the semantic query on {field}"


def _chunk_layout(layout: Layout, embedder: QueryEmbedder | None, caps: Capabilities,
                  explain: dict[str, Any]) -> Layout:
    """The chunk index's layout: with a semantic_text embedder (embedding = semantic_text) its
    vector leg is the `semantic` query on the semantic_text field (when licensed)."""
    field = getattr(embedder, "semantic_field", None)
    if layout is not CHUNKS or not field or SEMANTIC_LICENSE in caps.license_lacks:
        return layout
    explain["embedded_by"] = "semantic_text"
    explain["semantic_field"] = field
    return queries.SemanticChunkLayout(field)


def _cluster_rerank(params: SearchParams, caps: Capabilities,
                    explain: dict[str, Any]) -> str | None:
    """The rerank endpoint the cluster reranks with (`rerank.inference_id`, when the license
    has `text_similarity_reranker`); why not, in explain, when one is named but unlicensed."""
    inference_id = params.rerank.inference_id
    if params.mode is not Mode.HYBRID_RERANK or not inference_id:
        return None
    if RERANK_LICENSE in caps.license_lacks:
        explain["rerank_fallback"] = (f"the {caps.license_type} license lacks {RERANK_LICENSE}: "
                                      f"endpoint {inference_id} unused, reranked in es-rag")
        return None
    return inference_id


@tracing.traced("es_rag.search", tracing.search_call, tracing.search_result)
def search(client: Elasticsearch, caps: Capabilities, index: str, query_text: str,
           params: SearchParams | None = None, embedder: QueryEmbedder | None = None, *,
           as_user: str | None = None, reranker: Reranker | None = None,
           client_side_acl_filter: bool = False, layout: Layout = CHUNKS) -> SearchResult:
    """Search the chunk index (or, with a source's `layout`, an existing index) and return
    typed hits, best first.

    `embedder` (same model as the chunks) is needed by every mode but `bm25`; a
    `ClusterQueryEmbedder` has the cluster embed the query (`query_vector_builder`). `as_user`
    runs the search as that user (run_as or a per-user API key), so the cluster's DLS applies;
    without DLS it raises `PermissionRefused` unless `client_side_acl_filter` is true (es-rag
    then adds the user's ACL filter to every leg: see `es_rag.retrieve.permissions`).
    `reranker` overrides the one `params.rerank` would build in `hybrid+rerank` mode.
    `layout` (`es_rag.sources.SourceLayout`) searches a source's own fields; a source without
    vectors has no kNN leg: `knn` is refused and hybrid is lexical only, said in `explain`.
    Without `params`, the retrieval parameters stored by `es-rag apply` are used
    (`es_rag.retrieve.defaults`); `explain["parameters"]` reports the values searched with and
    where they came from, and with `params.explain` `explain["requests"]` lists the requests
    sent to the cluster (method, path, body).

    Example (with a connected client and the embedder from `es_rag.embedding.local`)::

        client, caps = connect(load_settings())
        params = SearchParams.from_cli(mode="hybrid", filters=["metadata.lang=en"], explain=True)
        result = search(client, caps, "es-rag-chunks", "what is RRF?", params, Embedder())
        [(h.chunk_id, h.bm25_rank, h.knn_rank, h.fused_score) for h in result.hits]
    """
    if not query_text or not query_text.strip():
        raise ValueError("the query is empty")
    if params is None:
        params = read_stored(client).search_params()
    lexical_only = params.mode is not Mode.BM25 and not layout.has_vectors
    unlicensed = _semantic_unlicensed(layout, embedder, caps, params)
    if unlicensed and params.mode is Mode.KNN:
        raise SearchError(f"knn search on {index!r} is a semantic query, and {unlicensed} "
                          "(use bm25, or hybrid, which is lexical only there)", 403)
    if lexical_only and params.mode is Mode.KNN:
        raise SearchError(f"source {layout.name!r} has no vector field: knn search is off "
                          "(use bm25, or hybrid, which is lexical only there)", 400)
    started = time.perf_counter()
    explain: dict[str, Any] = {"mode": params.mode.value, "index": index, "parameters": {
        "source": "caller", "overrides": [], **params.provenance,
        "values": params.tuned_values()}}
    if layout is not CHUNKS:  # a source's lexical fields and boosts are its definition's
        explain["source"] = getattr(layout, "explain", {"name": layout.name})
        explain["parameters"]["values"]["boosts"] = dict(explain["source"].get("lexical") or {})
    if lexical_only:
        explain["knn"] = (f"off: source {layout.name!r} has no vector field, so "
                          f"{params.mode.value} search is lexical only")
    elif unlicensed:
        lexical_only = True
        explain["knn"] = f"off: {unlicensed}, so {params.mode.value} search is lexical only"
        explain["fallback"] = {"from": "semantic", "reason": unlicensed}
    scope = _scope(client, caps, as_user, client_side_acl_filter)
    if scope is not None and scope.enforced_by == "client" and layout is not CHUNKS and \
            not getattr(layout, "acl_field", None):
        raise SearchError(f"refusing to search source {layout.name!r} as {as_user!r}: the "
                          "cluster does not enforce document-level security and the source "
                          "names no ACL field (fields.acl) for es-rag to filter on", 403)
    if scope is not None:
        params = scope.restrict(params, getattr(layout, "acl_field", None))
        explain["as_user"] = {"user": as_user, "enforced_by": scope.enforced_by}
    layout = _chunk_layout(layout, embedder, caps, explain)
    rerank_id = _cluster_rerank(params, caps, explain) if reranker is None else None
    searcher = _Searcher(scope.client if scope else client, index, explain, params.explain,
                         layout)
    vector: VectorQuery = []
    if params.mode is not Mode.BM25 and not lexical_only and \
            not getattr(layout, "semantic", False):
        if embedder is None:
            raise ValueError(f"search mode {params.mode.value!r} needs an embedder")
        if isinstance(embedder, ClusterQueryEmbedder):
            vector = embedder.query_vector_builder(query_text)
            explain["embedded_by"] = "cluster"
        else:
            t0 = time.perf_counter()
            with tracing.span("es_rag.embed_query", **tracing.embedding_attributes(embedder)):
                vector = list(embedder.embed_query(query_text))
            explain["embed_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    try:
        if params.mode is Mode.BM25 or lexical_only:
            body = queries.bm25_body(query_text, params, layout=layout)
            hits, path = searcher.hits(searcher.run(body)), "bm25"
            for rank, hit in enumerate(hits, start=1):
                hit.bm25_rank, hit.bm25_score = rank, hit.score
        elif params.mode is Mode.KNN:
            body = queries.knn_body(query_text, vector, params, layout=layout)
            hits, path = searcher.hits(searcher.run(body)), "knn"
            for rank, hit in enumerate(hits, start=1):
                hit.knn_rank, hit.knn_score = rank, hit.score
        else:
            hits, path = _hybrid(searcher, caps, query_text, vector, params, rerank_id)
            explain.update(fusion=params.fusion.value, weights=dict(params.weights),
                           rank_window_size=params.rank_window_size)
            explain.update({"normalizer": params.normalizer} if params.fusion is Fusion.LINEAR
                           else {"rank_constant": params.rank_constant})
    except ApiError as exc:
        raise SearchError(f"search on {index!r} failed ({exc.meta.status}): {error_reason(exc)}",
                          exc.meta.status) from None
    if params.mode is Mode.HYBRID_RERANK and "rerank" not in explain:
        stage = reranker or build_reranker(params.rerank, embedder)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        with tracing.span("es_rag.rerank", es_rag__reranker=stage.name, es_rag__hits=len(hits)):
            hits = stage.rerank(query_text, hits)
        explain["rerank"] = {"reranker": stage.name, "where": "client",
                             **({"backend": stage.backend} if hasattr(stage, "backend") else {}),
                             "ms": round((time.perf_counter() - t0) * 1000, 2),
                             "warnings": list(getattr(stage, "warnings", []))}
        if "rerank_fallback" in explain:
            explain["rerank"]["fallback"] = explain.pop("rerank_fallback")
    if scope is not None:
        hits = scope.admitted(hits)
    explain.update(path=path, es_took_ms=searcher.es_took_ms)
    took_ms = round((time.perf_counter() - started) * 1000, 2)
    return SearchResult(hits=hits[: params.size], path_used=path, took_ms=took_ms,
                        explain=explain)


def search_template(client: Elasticsearch, index: str, template_id: str,
                    params: Mapping[str, Any], *, as_user: str | None = None,
                    caps: Capabilities | None = None,
                    client_side_acl_filter: bool = False) -> SearchResult:
    """Run a stored search template (`_search/template`) and return typed hits.

    `as_user` (which needs `caps`) restricts the search to that user's chunks as in `search`;
    with `client_side_acl_filter` the ACL filter is added to the template's `filters` parameter
    and hits outside the user's ACL are dropped, should the template ignore that parameter.

    >>> search_template(client, "es-rag-chunks", "bm25",
    ...                 {"query": "rrf", "size": 5})  # doctest: +SKIP
    """
    started = time.perf_counter()
    scope = _scope(client, caps, as_user, client_side_acl_filter)
    params = scope.restrict_template_params(dict(params)) if scope else dict(params)
    try:
        response = (scope.client if scope else client).search_template(
            index=index, id=template_id, params=params)
    except ApiError as exc:
        raise SearchError(f"search template {template_id!r} on {index!r} failed "
                          f"({exc.meta.status}): {error_reason(exc)}", exc.meta.status) from None
    took_ms = round((time.perf_counter() - started) * 1000, 2)
    found = CHUNKS.hits(response)
    hits = scope.admitted(found) if scope else found
    return SearchResult(hits=hits, path_used="template", took_ms=took_ms,
                        explain={"template": template_id, "es_took_ms": response.get("took")})
