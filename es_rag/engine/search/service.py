"""The search-side services of a node: search, msearch, count, explain, reindex, delete_by_query.

Every method that reads documents takes the request's `read_scope` (security/read_scope.py) and
reads only the indices and documents it admits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import tantivy

from ..documents import Documents
from ..errors import (
    ActionRequestValidation,
    BadRequest,
    EngineError,
    ParsingError,
    SecurityError,
)
from ..index.fulltext import ID, KEY
from ..inference.context import current
from ..node import Node, Target
from ..query import parse_query
from ..query.base import QueryNode
from ..query.knn import KnnSpec
from ..query.terms_lookup import DOCUMENT_FETCHER
from ..security.read_scope import ReadScope
from ..source_filter import filter_source, parse_source_spec
from ..write_request import WriteRequest
from .context import SearchContext
from .executor import SearchExecutor
from .explain import no_match_text
from .hit_fields import check_docvalue_fields
from .linear import LINEAR_FEATURE
from .pit import PointsInTime, add_tiebreaker, validate_pit_search
from .query_phase import QueryPhase
from .reader_context import ReaderContexts
from .reindex_body import reindex_body
from .request import SearchRequest, parse_search, url_query
from .rerank_retriever import FEATURE as RERANK_FEATURE
from .retrievers import Retriever
from .scope import make_scopes, with_filters
from .scroll import Scrolls
from .shard_failures import failed_scope, shard_failure, shards_section
from .slice import parse_slice, slice_filter
from .suggest import typed_suggest
from .typed_keys import typed_aggregations
from .update_by_query import write_in_batches

RRF_FEATURE = "Reciprocal Rank Fusion (RRF)"
_FEATURES = {"rrf": RRF_FEATURE, "linear": LINEAR_FEATURE, RERANK_FEATURE: RERANK_FEATURE}

def _licensed_feature(req: SearchRequest) -> str | None:
    """The first feature outside a basic license the request uses, outermost retriever first."""
    def walk(node: Retriever | None) -> str | None:
        if node is None:
            return None
        if node.kind in _FEATURES:
            return _FEATURES[node.kind]
        return next((f for f in (walk(c) for c, _ in node.children) if f), None)
    return RRF_FEATURE if req.rrf is not None else walk(req.retriever)


def resolve_options(params: dict[str, str]) -> dict[str, Any]:
    """The index-resolution URL parameters of a request."""
    return {"ignore_unavailable": params.get("ignore_unavailable") == "true",
            "allow_no_indices": params.get("allow_no_indices", "true") != "false",
            "expand_wildcards": params.get("expand_wildcards", "open")}


class SearchService:
    """Search, count, msearch and delete-by-query."""

    def __init__(self, node: Node, documents: Documents,
                 embed_query: Callable[[str, str], list[float]] | None = None) -> None:
        self.node = node
        self.documents = documents
        # (model_id, text) → vector, for kNN's `query_vector_builder` (the ML service's)
        self.embed_query = embed_query
        # ids of the `_inference` endpoints (a builder's model_id may name one)
        self.inference_endpoints: Callable[[], Iterable[str]] = tuple
        self.contexts = ReaderContexts()
        self.scrolls = Scrolls(self, self.contexts)
        self.pits = PointsInTime(self, self.contexts)

    def targets(self, index: str | None, params: dict[str, str], read_scope: ReadScope
                ) -> list[Target]:
        """The indices a read resolves to: only those `read_scope` may read, its DLS attached.
        Also installs the terms-lookup fetcher (reading within the same scope) for the queries
        of this request."""
        DOCUMENT_FETCHER.set(lambda i, d: self.lookup_document(i, d, read_scope=read_scope))
        options = resolve_options(params)
        return read_scope.targets(index, options,
                                  lambda expression: self.node.resolve(expression, **options))

    def index_boosts(self, req: SearchRequest, params: dict[str, str]) -> dict[str, float]:
        """`indices_boost` per concrete index: the first entry naming it (index, alias or
        pattern) wins; a name resolving to no index is refused, as the search's own indices
        are (unless `ignore_unavailable`)."""
        boosts: dict[str, float] = {}
        for expression, boost in req.indices_boost:
            for target in self.node.resolve(expression, **resolve_options(params)):
                boosts.setdefault(target.index.name, boost)
        return boosts

    def matches(self, index: str, doc_id: str, query: dict[str, Any]) -> bool:
        """Whether the latest version of a document of the concrete `index` matches `query`
        (refreshing first: a get is real-time); the read scope's check for single documents."""
        service = self.node.get_index(index)
        service.shard.refresh()
        [scope] = make_scopes([Target(service)])
        clause = parse_query({"bool": {"filter": [{"ids": {"values": [doc_id]}}, query]}})
        query_phase = QueryPhase(SearchContext(SearchRequest(), [scope]))
        return scope.ctx.shard.fulltext.count(query_phase.scope_query(0, clause, [])) > 0

    def search(self, index: str | None, body: dict[str, Any] | None, params: dict[str, str],
               *, read_scope: ReadScope) -> dict[str, Any]:
        """A `_search` response (opening a scroll, or over a point in time)."""
        body = body or {}
        pit = validate_pit_search(index, body["pit"], params) if "pit" in body else None
        sliced = parse_slice(body["slice"], "scroll" in params or pit is not None) \
            if "slice" in body else None
        req = parse_search({k: v for k, v in body.items() if k not in ("pit", "slice")}, params)
        self.build_query_vectors(_knn_specs(req))
        if req.knn and "search_type" in params:
            raise BadRequest("cannot set [search_type] when using [knn] search, since the search "
                             "type is determined automatically")
        feature = _licensed_feature(req)
        if feature is not None and self.node.license.get("type") == "basic":
            raise SecurityError(f"current license is non-compliant for [{feature}]",
                                **{"license.expired.feature": feature})
        if "scroll" in params:
            return self.scrolls.open(index, body, req, params, sliced, read_scope=read_scope)
        if pit is not None:
            context, targets = self.pits.targets(pit, read_scope=read_scope)
            add_tiebreaker(req)
            search = SearchContext(req, context.scopes(targets))
            if sliced is not None:
                search.extra_filters = [slice_filter(search.scopes, sliced)]
        else:
            search = SearchContext(req, make_scopes(self.targets(index, params, read_scope)))
        search.named_scores = params.get("include_named_queries_score") == "true"
        search.allow_partial = params.get("allow_partial_search_results") != "false"
        search.node_id = self.node.node_id
        search.index_boosts = self.index_boosts(req, params)
        check_docvalue_fields(search.scopes, req.docvalue_fields)
        result = SearchExecutor(search).execute()
        if params.get("typed_keys") == "true" and req.aggs and result.get("aggregations"):
            result["aggregations"] = typed_aggregations(
                req.aggs, result["aggregations"], lambda path: next(
                    (s.ctx.spec(path) for s in search.scopes if s.ctx.spec(path)), None))
        if params.get("typed_keys") == "true" and req.suggest and "suggest" in result:
            result["suggest"] = typed_suggest(req.suggest, result["suggest"])
        if req.stored_fields_none:
            for hit in result["hits"]["hits"]:
                hit.pop("_id", None)
        return result if pit is None else {"pit_id": context.id, **result}

    def explain(self, index: str, doc_id: str, body: dict[str, Any] | None,
                params: dict[str, str], *, read_scope: ReadScope) -> tuple[dict[str, Any], int]:
        """An `_explain` response and its status (404 when the document is not found)."""
        body = body or {}
        for key in body:
            if key != "query":
                raise ParsingError(f"request does not support [{key}]")
        if body.get("query") is not None:
            query = parse_query(body["query"])
        elif "q" in params:
            query = parse_query(url_query(params))
        else:
            raise ActionRequestValidation("Validation Failed: 1: query is missing;")
        self.build_query_vectors(k.spec for k in query.knn_nodes())
        targets = self.targets(index, params, read_scope)
        if len(targets) != 1:
            raise BadRequest(f"alias [{index}] has more than one index associated with it "
                             f"[{', '.join(sorted(t.index.name for t in targets))}], can't "
                             f"execute a single index op")
        [scope] = make_scopes(targets)
        out: dict[str, Any] = {"_index": scope.name, "_id": doc_id}
        address = self._explained_address(scope.ctx, scope.alias_filter, doc_id)
        if address is None or not read_scope.admits(scope.name, doc_id):
            return {**out, "matched": False}, 404
        explanation = query.explain(scope.ctx, address)
        if explanation is None:
            return {**out, "matched": False, "explanation": {
                "value": 0.0, "description": no_match_text(scope.ctx, query, address),
                "details": []}}, 200
        return {**out, "matched": True, "explanation": explanation}, 200

    @staticmethod
    def _explained_address(ctx: Any, alias_filter: Any, doc_id: str) -> Any | None:
        """The searchable (refreshed) version of a document, if the alias filters admit it."""
        query = tantivy.Query.term_query(ctx.schema, ID, doc_id)
        hits = ctx.shard.fulltext.searcher.search(
            with_filters(query, [alias_filter] if alias_filter is not None else []), 1,
            count=False).hits
        return hits[0][1] if hits else None

    def count(self, index: str | None, body: dict[str, Any] | None, params: dict[str, str],
              *, read_scope: ReadScope) -> dict[str, Any]:
        """A `_count` response."""
        body = body or {}
        for key in body:
            if key != "query":
                raise ParsingError(f"request does not support [{key}]")
        terminate_after = params.get("terminate_after")
        if terminate_after is not None and int(terminate_after) < 0:
            raise BadRequest("terminateAfter must be > 0")
        query = parse_query(body["query"]) if body.get("query") is not None else \
            (parse_query(url_query(params)) if "q" in params else None)
        if query is not None:
            self.build_query_vectors(k.spec for k in query.knn_nodes())
        targets = self.targets(index, params, read_scope)
        limit = int(terminate_after or 0)
        min_score = float(params["min_score"]) if params.get("min_score") else None
        total = 0
        terminated = False
        failures: list[dict[str, Any]] = []
        for scope in make_scopes(targets):
            query_phase = QueryPhase(SearchContext(SearchRequest(), [scope]))
            try:
                scoped = query_phase.scope_query(0, query, [])
            except EngineError as err:  # that index's shard fails; the others count
                if len(targets) == 1 or failed_scope(err, [scope]) is None or \
                        len(failures) == len(targets) - 1:
                    raise
                failures.append(shard_failure(err, scope.name, self.node.node_id))
                continue
            fulltext = scope.ctx.shard.fulltext
            matches = fulltext.count(scoped)
            if min_score is not None and matches:  # only documents scoring at least min_score
                hits = fulltext.searcher.search(scoped, matches, count=False).hits
                matches = sum(1 for score, _ in hits if score >= min_score)
            terminated = terminated or (limit > 0 and matches > limit)
            total += min(matches, limit) if limit > 0 else matches
        body: dict[str, Any] = {"count": total}
        if limit > 0:
            body["terminated_early"] = terminated
        body["_shards"] = shards_section(len(targets), failures)
        return body

    def lookup_document(self, index: str, doc_id: str, *, read_scope: ReadScope
                        ) -> dict[str, Any] | None:
        """A terms lookup's document, read in real time as the searching user would get it
        (an alias must point to one index; DLS hides documents the user cannot read)."""
        targets = self.targets(index, {}, read_scope)
        if len(targets) != 1:
            raise BadRequest(f"alias [{index}] has more than one index associated with it "
                             f"[{', '.join(sorted(t.index.name for t in targets))}], can't "
                             f"execute a single index op")
        service = targets[0].index
        doc = service.shard.store.get(doc_id)
        if doc is None or not read_scope.admits(service.name, doc_id):
            return None
        visible = targets[0].fields
        return doc.source_json() if visible is None else visible.filter_source(doc.source_json())

    def build_query_vectors(self, specs: Iterator[KnnSpec] | list[KnnSpec]) -> None:
        """Embed the `model_text` of every kNN `query_vector_builder` (once per model and
        text), as Elasticsearch does before the search starts."""
        vectors: dict[tuple[str | None, str], list[float]] = {}
        for spec in specs:
            if spec.builder is None or spec.builder[0] is None:
                continue  # no model_id: a semantic_text field's own endpoint (search/knn.py)
            if spec.builder[0] in self.inference_endpoints():
                spec.vector = current().embed(*spec.builder)[1]
                continue
            if self.embed_query is None:
                raise BadRequest("[query_vector_builder] needs the engine's ML service")
            if spec.builder not in vectors:
                vectors[spec.builder] = self.embed_query(*spec.builder)
            spec.vector = vectors[spec.builder]

    def msearch(self, index: str | None, payload: bytes, params: dict[str, str], *,
                read_scope: ReadScope) -> dict[str, Any]:
        """An `_msearch` response: one search (or error) per header/body pair."""
        return self.run_msearch(index, parse_msearch(payload), params, read_scope=read_scope)

    def run_msearch(self, index: str | None,
                    pairs: list[tuple[dict[str, Any], dict[str, Any] | EngineError]],
                    params: dict[str, str], *, read_scope: ReadScope) -> dict[str, Any]:
        """Run (header, body) pairs; a body may be an error to report in its slot."""
        started = time.perf_counter()
        requests = []
        for header, body in pairs:
            target = header.get("index", index)
            if isinstance(target, list):
                target = ",".join(target)
            sub_params = {**params, **{k: str(v).lower() if isinstance(v, bool) else str(v)
                                       for k, v in header.items() if k != "index"}}
            if isinstance(body, dict) and "pit" in body:  # MultiSearchRequest.validate: the
                validate_pit_search(target, body["pit"], sub_params)  # whole request fails
            requests.append((target, body, sub_params))
        responses = []
        for target, body, sub_params in requests:
            try:
                if isinstance(body, EngineError):
                    raise body
                result = self.search(target, body, sub_params, read_scope=read_scope)
                result["status"] = 200
            except EngineError as err:
                result = err.body()
            responses.append(result)
        return {"took": int((time.perf_counter() - started) * 1000), "responses": responses}

    def reindex(self, body: dict[str, Any] | None, params: dict[str, str], *,
                read_scope: ReadScope) -> dict[str, Any]:
        """Copy the documents of `source.index` (matching `source.query`, on the refreshed
        state) into `dest.index` through the normal write path (dest pipelines included)."""
        started = time.perf_counter()
        source, dest = reindex_body(body)
        src = source["index"]
        query = parse_query(source.get("query") or {"match_all": {}})
        max_docs = (body or {}).get("max_docs", (body or {}).get("size", params.get("max_docs")))
        op = "create" if dest.get("op_type") == "create" else "index"
        _, inc, exc = parse_source_spec(source.get("_source"))
        filtered = bool(inc or exc)
        scopes = make_scopes(self.targets(",".join(src) if isinstance(src, list) else src,
                                          params, read_scope))
        if dest["index"] not in self.node.indices and dest["index"] not in \
                self.node.alias_names():  # ReindexValidator checks auto-creation up front
            self.node.cluster_settings.check_auto_create(dest["index"])
        found: list[tuple[int, int, Any]] = []  # (scope number, key, stored document)
        for num, scope in enumerate(scopes):
            if scope.name == dest["index"]:
                raise BadRequest(f"reindex cannot write into an index its reading from "
                                 f"[{scope.name}]",
                                 error_type="action_request_validation_exception")
            q = with_filters(query.compile(scope.ctx),
                             [scope.alias_filter] if scope.alias_filter is not None else [])
            n = scope.ctx.shard.fulltext.count(q)
            if not n:
                continue
            addresses = [a for _, a in scope.ctx.shard.fulltext.searcher.search(
                q, n, count=False).hits]
            keys = scope.ctx.shard.fulltext.searcher.fast_field_values(KEY, addresses)
            docs = scope.ctx.shard.store.by_seq_nos(keys)
            found += [(num, key, docs[key]) for key in sorted(keys) if key in docs]
        if "sort" in source:  # deprecated, still honoured: copy in the requested order
            ranked = SearchContext(parse_search({"query": source.get("query"),
                                                 "sort": source["sort"]}, {}), scopes)
            ranked.keep_all = True
            SearchExecutor(ranked).execute()
            assert ranked.ranked is not None
            order = {(num, key): pos for pos, (_, num, key) in enumerate(ranked.ranked[0])}
            found.sort(key=lambda item: order.get(item[:2], len(order)))
        hidden = any(scope.ctx.fields is not None for scope in scopes)  # field-level security
        copies = [WriteRequest(op, dest["index"], doc.id,
                               source=filter_source(scopes[num].ctx.source_of(doc), inc, exc)
                               if filtered or hidden else doc.source_json(),
                               raw_source=None if filtered or hidden else doc.source,
                               pipeline=dest.get("pipeline"), routing=doc.routing)
                  for num, _, doc in found]
        proceed = (body or {}).get("conflicts", params.get("conflicts")) == "proceed"
        batch_size = max(int(source.get("size", 1000)), 1)
        results, batches = write_in_batches(self.documents, copies, batch_size,
                                            int(max_docs) if max_docs is not None else None,
                                            proceed)
        created = sum(1 for r in results if r.error is None and r.body.get("result") == "created")
        updated = sum(1 for r in results if r.error is None and r.body.get("result") == "updated")
        conflicts = [r for r in results if r.status == 409]
        failed = [r for r in results if r.error is not None and (r.status != 409 or not proceed)]
        if params.get("refresh") in ("", "true") and dest["index"] in self.node.indices:
            self.node.indices[dest["index"]].shard.refresh()
        return {"took": int((time.perf_counter() - started) * 1000), "timed_out": False,
                "total": len(results), "updated": updated, "created": created, "deleted": 0,
                "batches": batches, "version_conflicts": len(conflicts),
                "noops": 0, "retries": {"bulk": 0, "search": 0}, "throttled_millis": 0,
                "requests_per_second": -1.0, "throttled_until_millis": 0,
                "failures": [{"index": r.body.get("_index"), "id": r.body.get("_id"),
                              "cause": r.error.cause(), "status": r.status}
                             for r in failed if r.error is not None]}

    def delete_by_query(self, index: str, body: dict[str, Any] | None, params: dict[str, str],
                        *, read_scope: ReadScope) -> tuple[dict[str, Any], int]:
        """Delete every document matching the query (on the refreshed state); the status is
        409 when a document changed since that refresh (unless `conflicts=proceed`)."""
        started = time.perf_counter()
        body = body or {}
        if "query" not in body:
            raise EngineError("Validation Failed: 1: query is missing;", status=400,
                              error_type="action_request_validation_exception")
        for key in body:
            if key not in ("query", "max_docs", "slice", "conflicts"):
                raise ParsingError(f"[delete_by_query] unknown field [{key}]")
        query = parse_query(body["query"])
        max_docs = body.get("max_docs", params.get("max_docs"))
        targets = self.targets(index, params, read_scope)
        requests: list[WriteRequest] = []
        for scope in make_scopes(targets):
            q = with_filters(query.compile(scope.ctx),
                             [scope.alias_filter] if scope.alias_filter is not None else [])
            searcher = scope.ctx.shard.fulltext.searcher
            n = scope.ctx.shard.fulltext.count(q)
            if not n:
                continue
            addresses = [a for _, a in searcher.search(q, n, count=False).hits]
            keys = searcher.fast_field_values(KEY, addresses)
            docs = scope.ctx.shard.store.by_seq_nos(keys)
            stale = [a for a, k in zip(addresses, keys, strict=True) if k not in docs]
            stale_ids = dict(zip([k for k in keys if k not in docs],
                                 scope.ctx.shard.fulltext.ids_of(stale), strict=True))
            for key in sorted(keys):
                doc_id = docs[key].id if key in docs else stale_ids[key]
                # the version seen by the search: a later change is a version conflict
                requests.append(WriteRequest("delete", scope.name, doc_id, if_seq_no=key,
                                             if_primary_term=1))
        if max_docs is not None:
            requests = requests[:int(max_docs)]
        results = self.documents.write(requests, bulk=True)
        deleted = sum(1 for r in results if r.error is None and r.status == 200)
        conflicts = [r for r in results if r.error is not None]
        proceed = params.get("conflicts", body.get("conflicts")) == "proceed"
        failures = [] if proceed else [
            {"index": r.body.get("_index"), "id": r.body.get("_id"), "cause": r.error.cause(),
             "status": r.status} for r in conflicts if r.error is not None]
        if params.get("refresh") == "true":
            for target in targets:
                target.index.shard.refresh()
        scroll_size = max(int(params.get("scroll_size", 1000)), 1)
        return {"took": int((time.perf_counter() - started) * 1000), "timed_out": False,
                "total": len(requests), "deleted": deleted,
                "batches": -(-len(requests) // scroll_size),
                "version_conflicts": len(conflicts), "noops": 0,
                "retries": {"bulk": 0, "search": 0}, "throttled_millis": 0,
                "requests_per_second": -1.0, "throttled_until_millis": 0,
                "failures": failures}, 409 if failures else 200


def parse_msearch(payload: bytes) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """NDJSON header/body pairs of an `_msearch` request."""
    lines = [ln for ln in payload.split(b"\n") if ln.strip()]
    if not lines or len(lines) % 2:
        raise EngineError("msearch request must contain at least one search" if not lines
                          else "The msearch request must be terminated by a newline [\\n]",
                          status=400, error_type="illegal_argument_exception")
    pairs = []
    for header_line, body_line in zip(lines[::2], lines[1::2], strict=True):
        try:
            pairs.append((orjson.loads(header_line), orjson.loads(body_line)))
        except orjson.JSONDecodeError as err:
            raise EngineError(f"Failed to parse msearch line: {err}", status=400,
                              error_type="x_content_parse_exception") from err
    return pairs


def _knn_specs(req: SearchRequest) -> list[KnnSpec]:
    """Every kNN of a search: top-level, knn retrievers, and knn queries in any query tree."""
    specs = list(req.knn)
    nodes: list[QueryNode | None] = [req.query, req.post_filter, *req.sub_searches]
    retrievers = [req.retriever] if req.retriever is not None else []
    while retrievers:
        retriever = retrievers.pop()
        if retriever.knn is not None:
            specs.append(retriever.knn)
        nodes += [retriever.query, *retriever.filters]
        retrievers += [child for child, _ in retriever.children]
    for node in nodes:
        if node is not None:
            specs += [knn.spec for knn in node.knn_nodes()]
    return specs
