"""Search routes: search, count, msearch, explain, delete/update_by_query, reindex."""

from __future__ import annotations

import time

from ..errors import BadRequest
from ..node import VERSION
from ..search.field_caps import field_caps, parse_request
from ..search.reindex_body import reindex_deprecations
from ..search.service import SearchService
from ..search.update_by_query import update_by_query as run_update_by_query
from . import cat
from .rest import RestRequest, RestResponse, Router

SEARCH_PARAMS = (
    "allow_no_indices allow_partial_search_results analyzer analyze_wildcard "
    "batched_reduce_size ccs_minimize_roundtrips default_operator df expand_wildcards explain "
    "from ignore_throttled ignore_unavailable include_named_queries_score lenient "
    "max_concurrent_shard_requests pre_filter_shard_size preference q request_cache "
    "rest_total_hits_as_int routing scroll search_type seq_no_primary_term size sort _source "
    "_source_excludes _source_includes stats stored_fields terminate_after timeout "
    "docvalue_fields "
    "track_scores track_total_hits typed_keys version force_synthetic_source")
_COUNT_PARAMS = ("allow_no_indices analyzer analyze_wildcard default_operator df "
                 "expand_wildcards ignore_throttled ignore_unavailable lenient min_score "
                 "preference q routing terminate_after")
_MSEARCH_PARAMS = ("ccs_minimize_roundtrips max_concurrent_searches "
                   "max_concurrent_shard_requests pre_filter_shard_size rest_total_hits_as_int "
                   "search_type typed_keys allow_no_indices expand_wildcards ignore_unavailable "
                   "ignore_throttled include_named_queries_score routing")
_UBQ_PARAMS = ("allow_no_indices analyzer analyze_wildcard conflicts default_operator df "
               "expand_wildcards ignore_unavailable lenient max_docs pipeline q refresh "
               "scroll_size wait_for_completion")
# Elasticsearch's RestCountAction table
_CAT_COUNT = [cat.Column("epoch", ("t", "time"), "seconds since 1970-01-01 00:00:00"),
              cat.Column("timestamp", ("ts", "hms", "hhmmss"), "time in HH:MM:SS"),
              cat.Column("count", ("dc", "docs.count", "docsCount"), "the document count")]
_FIELD_CAPS_PARAMS = ("allow_no_indices expand_wildcards fields filters ignore_unavailable "
                      "include_empty_fields include_unmapped types")
_EXPLAIN_PARAMS = "analyzer default_operator df lenient preference q routing"
_DBQ_PARAMS = ("allow_no_indices analyzer analyze_wildcard conflicts default_operator df "
               "expand_wildcards from ignore_unavailable lenient max_docs preference q refresh "
               "request_cache requests_per_second routing scroll scroll_size search_timeout "
               "search_type slices sort stats terminate_after timeout version "
               "wait_for_active_shards wait_for_completion")


def register(router: Router, service: SearchService) -> None:
    """Add the search routes served by `service`."""

    def search(req: RestRequest) -> RestResponse:
        return RestResponse(service.search(req.path_params.get("index"), req.json(),
                                           req.params, read_scope=req.scope))

    def count(req: RestRequest) -> RestResponse:
        return RestResponse(service.count(req.path_params.get("index"), req.json(), req.params,
                                          read_scope=req.scope))

    def cat_count(req: RestRequest) -> RestResponse:
        for key in req.json() or {}:  # newer clients POST (a body for project routing)
            raise BadRequest(f"request does not support [{key}]")
        now = time.time()
        total = 0 if req.flag("help") else service.count(
            req.path_params.get("index"), None, {}, read_scope=req.scope)["count"]
        return cat.render(req, _CAT_COUNT, [{
            "epoch": str(int(now)), "timestamp": time.strftime("%H:%M:%S", time.gmtime(now)),
            "count": str(total)}])

    def msearch(req: RestRequest) -> RestResponse:
        return RestResponse(service.msearch(req.path_params.get("index"), req.body, req.params,
                                            read_scope=req.scope))

    def explain(req: RestRequest) -> RestResponse:
        body, status = service.explain(req.path_params["index"], req.path_params["id"],
                                       req.json(), req.params, read_scope=req.scope)
        return RestResponse(body, status)

    def delete_by_query(req: RestRequest) -> RestResponse:
        if req.params.get("wait_for_completion") == "false":
            raise BadRequest("[wait_for_completion=false] is not supported by the embedded "
                             "engine")
        body, status = service.delete_by_query(req.path_params["index"], req.json(), req.params,
                                               read_scope=req.scope)
        return RestResponse(body, status)

    def update_by_query(req: RestRequest) -> RestResponse:
        if req.params.get("wait_for_completion") == "false":
            raise BadRequest("[wait_for_completion=false] is not supported by the embedded "
                             "engine")
        body, status = run_update_by_query(service, req.path_params["index"], req.json(),
                                           req.params, read_scope=req.scope)
        return RestResponse(body, status)

    def reindex(req: RestRequest) -> RestResponse:
        if req.params.get("wait_for_completion") == "false":
            raise BadRequest("[wait_for_completion=false] is not supported by the embedded "
                             "engine")
        request = req.json(required=True)
        body = service.reindex(request, req.params, read_scope=req.scope)
        warnings = ", ".join(f'299 Elasticsearch-{VERSION} "{w}"'
                             for w in reindex_deprecations(request))
        # as Elasticsearch: the status of the worst failed write (403 when refused), else 200
        return RestResponse(body, max([200, *(f["status"] for f in body["failures"])]),
                            headers={"Warning": warnings} if warnings else {})

    def get_field_caps(req: RestRequest) -> RestResponse:
        request = parse_request(req.json(), req.params, req.flag)
        return RestResponse(field_caps(service, req.path_params.get("index"), request,
                                       req.params, req.scope))

    router.add("POST", "/_reindex", reindex,
               "refresh timeout wait_for_active_shards wait_for_completion requests_per_second "
               "scroll slices max_docs require_alias")
    for prefix in ("", "/{index}"):
        router.add("GET POST", f"{prefix}/_search", search, SEARCH_PARAMS)
        router.add("GET POST", f"{prefix}/_count", count, _COUNT_PARAMS)
        router.add("GET POST", f"/_cat/count{prefix}", cat_count, "format h help v")
        router.add("GET POST", f"{prefix}/_msearch", msearch, _MSEARCH_PARAMS)
        router.add("GET POST", f"{prefix}/_field_caps", get_field_caps, _FIELD_CAPS_PARAMS)
    router.add("POST", "/{index}/_delete_by_query", delete_by_query, _DBQ_PARAMS)
    router.add("POST", "/{index}/_update_by_query", update_by_query, _UBQ_PARAMS)
    router.add("GET POST", "/{index}/_explain/{id}", explain, _EXPLAIN_PARAMS)
