"""The search request: the body and URL parameters parsed and validated into one object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ActionRequestValidation, BadRequest, ParsingError
from ..query import parse_query
from ..query.base import QueryNode
from ..query.knn import KnnSpec
from ..source_filter import excludes_vectors, hidden_metadata, parse_source_spec
from .collapse import CollapseSpec, parse_collapse
from .profile import check_profile
from .rescore import Rescorer, parse_rescore
from .retrievers import Retriever, parse_retriever
from .suggest import parse_suggest

BODY_KEYS = {
    "query", "knn", "retriever", "rank", "from", "size", "sort", "_source", "highlight",
    "track_total_hits", "search_after", "min_score", "aggs", "aggregations", "timeout",
    "track_scores", "version", "seq_no_primary_term", "stored_fields", "profile", "explain",
    "terminate_after", "post_filter", "fields", "docvalue_fields", "ext", "sub_searches",
    "collapse", "indices_boost", "rescore", "suggest",
}
UNSUPPORTED_KEYS = {"script_fields", "runtime_mappings",
                    "stats", "point_in_time"}


@dataclass
class SortKey:
    """One sort criterion."""

    field: str
    order: str
    missing: Any = None
    unmapped_type: str | None = None
    format: str | None = None
    mode: str | None = None
    nested: dict[str, Any] | None = None
    numeric_type: str | None = None  # `{path, filter}` of a field inside a nested field


@dataclass
class SearchRequest:
    """Everything a search needs, validated."""

    query: QueryNode | None = None
    knn: list[KnnSpec] = field(default_factory=list)
    retriever: Retriever | None = None
    rrf: dict[str, Any] | None = None
    from_: int = 0
    size: int = 10
    sort: list[SortKey] = field(default_factory=list)
    source: tuple[bool, list[str], list[str]] = (True, [], [])
    exclude_vectors: bool = False
    highlight: dict[str, Any] | None = None
    track_total_hits: bool | int = 10000
    search_after: list[Any] | None = None
    min_score: float | None = None
    aggs: dict[str, Any] | None = None
    suggest: dict[str, Any] | None = None  # name → (type, text, options), parse_suggest's
    post_filter: QueryNode | None = None
    track_scores: bool = False
    version: bool = False
    seq_no_primary_term: bool = False
    explain: bool = False
    profile: bool = False
    fields: list[Any] | None = None
    docvalue_fields: list[Any] | None = None
    sub_searches: list[QueryNode] = field(default_factory=list)
    total_as_int: bool = False
    terminate_after: int | None = None
    collapse: CollapseSpec | None = None
    indices_boost: list[tuple[str, float]] = field(default_factory=list)
    rescore: list[Rescorer] = field(default_factory=list)
    stored_fields_none: bool = False  # `stored_fields: _none_`: hits without `_id`


def _int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise ParsingError(f"[{name}] failed to parse") from err


def parse_sort(spec: Any) -> list[SortKey]:
    """`sort` in any of Elasticsearch's forms (string, list, objects, `field:order` params)."""
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    out = []
    for item in items:
        if isinstance(item, str):
            name, _, order = item.partition(":")
            out.append(SortKey(name, order or ("desc" if name == "_score" else "asc")))
            continue
        if not isinstance(item, dict) or not item:
            raise ParsingError("malformed sort format, within the sort array, an object, or an "
                               "actual string are allowed")
        # an object may hold several fields, each a sort key (SortBuilder.parseCompoundSortField)
        out += [_field_sort(name, opts) for name, opts in item.items()]
    return out


def _field_sort(name: str, opts: Any) -> SortKey:
    if isinstance(opts, str):
        opts = {"order": opts}
    if not isinstance(opts, dict):
        raise ParsingError(f"[sort] failed to parse field [{name}]")
    for key in opts:
        if key not in ("order", "missing", "unmapped_type", "mode", "format", "numeric_type",
                       "nested"):
            raise ParsingError(f"[field_sort] unknown field [{key}]",
                               error_type="x_content_parse_exception")
    order = str(opts.get("order", "desc" if name == "_score" else "asc")).lower()
    if order not in ("asc", "desc"):
        raise ParsingError(f"[sort] unknown order [{order}]")
    mode = opts.get("mode")
    if mode is not None and mode not in ("min", "max", "sum", "avg", "median"):
        raise ParsingError(f"Unknown SortMode [{mode}]")
    nested = opts.get("nested")
    if nested is not None and (not isinstance(nested, dict) or "path" not in nested):
        raise ParsingError("[nested] requires 'path' field")
    return SortKey(name, order, opts.get("missing"), opts.get("unmapped_type"),
                   opts.get("format"), mode, nested, opts.get("numeric_type"))


_Q_OPTIONS = {"df": "default_field", "default_operator": "default_operator",
              "analyzer": "analyzer", "lenient": "lenient", "analyze_wildcard": "analyze_wildcard"}


def url_query(params: dict[str, str]) -> dict[str, Any]:
    """The `query_string` query of a `q` URL parameter with the URL's `df`, `default_operator`,
    `analyzer`, `lenient` and `analyze_wildcard` (RestActions.urlParamsToQueryBuilder)."""
    spec: dict[str, Any] = {"query": params["q"]}
    for param, option in _Q_OPTIONS.items():
        if param in params:
            value = params[param]
            spec[option] = value == "true" if option in ("lenient", "analyze_wildcard") else \
                value
    return {"query_string": spec}


def _token(value: Any) -> str:
    return "START_OBJECT" if isinstance(value, dict) else "START_ARRAY" if isinstance(
        value, list) else "VALUE_NUMBER" if isinstance(value, int | float) else "VALUE_STRING"


def parse_indices_boost(spec: Any) -> list[tuple[str, float]]:
    """`indices_boost: [{"index-or-alias-or-pattern": boost}, ...]` as SearchSourceBuilder's
    IndexBoost parses it (the object form was removed in 8.0)."""
    if not isinstance(spec, list):
        raise ParsingError(f"Unknown key for a {_token(spec)} in [indices_boost].")
    out = []
    for entry in spec:
        if not isinstance(entry, dict):
            raise ParsingError(f"Expected [START_OBJECT] in [indices_boost] but found "
                               f"[{_token(entry)}]")
        if len(entry) != 1:
            raise ParsingError("Expected [FIELD_NAME] in [indices_boost] but found [END_OBJECT]"
                               if not entry else "Expected [END_OBJECT] in [indices_boost] "
                               "but found [FIELD_NAME]")
        [(name, boost)] = entry.items()
        if isinstance(boost, bool) or not isinstance(boost, int | float):
            raise ParsingError(f"Expected [VALUE_NUMBER] in [indices_boost] but found "
                               f"[{_token(boost)}]")
        out.append((str(name), float(boost)))
    return out


def parse_search(body: dict[str, Any] | None, params: dict[str, str]) -> SearchRequest:
    """Build a SearchRequest from a `_search` body and its URL parameters."""
    body = dict(body or {})
    for key, value in body.items():
        if key in UNSUPPORTED_KEYS:
            raise ParsingError(f"[{key}] is not supported by the embedded engine")
        if key not in BODY_KEYS:
            kind = "START_OBJECT" if isinstance(value, dict) else \
                "START_ARRAY" if isinstance(value, list) else "VALUE_STRING"
            raise ParsingError(f"Unknown key for a {kind} in [{key}].")
    profile = check_profile(body)
    req = SearchRequest()
    req.profile = profile
    if "q" in params:
        req.query = parse_query(url_query(params))
    if body.get("query") is not None:
        req.query = parse_query(body["query"])
    knn = body.get("knn")
    if knn is not None:
        req.knn = [KnnSpec(k, require_k=False) for k in (knn if isinstance(knn, list) else [knn])]
    if "retriever" in body:
        bad = [k for k in ("query", "knn", "rank", "min_score", "search_after") if k in body]
        if bad:
            bad = bad[0]
            raise BadRequest(f"cannot specify [retriever] and [{bad}]",
                             error_type="action_request_validation_exception")
        req.retriever = parse_retriever(body["retriever"])
    subs = body.get("sub_searches")
    if subs is not None:
        if not isinstance(subs, list) or not all(isinstance(s, dict) and "query" in s
                                                 for s in subs):
            raise ParsingError("[sub_searches] failed to parse")
        if req.query is not None:
            raise BadRequest("cannot specify both [query] and [sub_searches]",
                             error_type="action_request_validation_exception")
        req.sub_searches = [parse_query(s["query"]) for s in subs]
        if len(req.sub_searches) == 1 and "rank" not in body:
            req.query, req.sub_searches = req.sub_searches[0], []
    rank = body.get("rank")
    if rank is None and len(req.sub_searches) > 1:
        raise BadRequest("[sub_searches] requires [rank]",
                         error_type="action_request_validation_exception")
    if rank is not None:
        if not isinstance(rank, dict) or list(rank) != ["rrf"]:
            raise ParsingError(f"unknown rank type [{next(iter(rank), '')}]")
        req.rrf = dict(rank["rrf"] or {})
        if len(req.knn) + (1 if req.query else 0) + len(req.sub_searches) < 2:
            raise BadRequest("[rank] requires a minimum of [2] result sets using a combination "
                             "of sub searches, query, and knn",
                             error_type="action_request_validation_exception")
    if "indices_boost" in body:
        req.indices_boost = parse_indices_boost(body["indices_boost"])
    req.from_ = _int("from", params.get("from", body.get("from", 0)))
    req.size = _int("size", params.get("size", body.get("size", 10)))
    if req.from_ < 0:
        raise BadRequest("[from] parameter cannot be negative",
                         error_type="action_request_validation_exception")
    if req.size < 0:
        raise BadRequest("[size] parameter cannot be negative, found [-1]"
                         if req.size == -1 else f"[size] parameter cannot be negative, found "
                         f"[{req.size}]", error_type="action_request_validation_exception")
    if "scroll" in params and req.size > 10000:
        raise BadRequest(f"Batch size is too large, size must be less than or equal to: [10000] "
                         f"but was [{req.size}]. Scroll batch sizes cost as much memory as result "
                         f"windows so they are controlled by the [index.max_result_window] index "
                         f"level setting.")
    if req.from_ + req.size > 10000:
        raise BadRequest(f"Result window is too large, from + size must be less than or equal to:"
                         f" [10000] but was [{req.from_ + req.size}]. See the scroll api for a "
                         f"more efficient way to request large data sets. This limit can be set "
                         f"by changing the [index.max_result_window] index level setting.")
    for spec in req.knn:
        if not spec.k_given:
            if spec.nc_given and spec.num_candidates < req.size:
                raise BadRequest(f"[num_candidates] cannot be less than [k]; k defaults to "
                                 f"[size] ({req.size}) when not given")
            spec.apply_size(req.size, spec.num_candidates if spec.nc_given else None)
    req.sort = parse_sort(params["sort"].split(",") if "sort" in params else body.get("sort"))
    spec = body.get("_source")
    if "_source" in params:
        spec = params["_source"]
    stored = params.get("stored_fields", body.get("stored_fields"))
    if isinstance(stored, str):
        stored = stored.split(",")
    if stored is not None and "_none_" in stored:  # no stored nor metadata fields
        if spec not in (None, False):
            raise BadRequest("[stored_fields] cannot be disabled if [_source] is requested")
        req.stored_fields_none = True
    if stored is not None and spec is None and "_source" not in stored:
        spec = False
    fetch, inc, exc = parse_source_spec(spec, params.get("_source_includes"),
                                        params.get("_source_excludes"))
    req.source = (fetch, inc, hidden_metadata(spec, inc, exc))
    req.exclude_vectors = excludes_vectors(spec)
    req.highlight = body.get("highlight")
    tth = params.get("track_total_hits", body.get("track_total_hits", 10000))
    if tth in (True, "true"):
        req.track_total_hits = True
    elif tth in (False, "false"):
        req.track_total_hits = False
    else:
        req.track_total_hits = _int("track_total_hits", tth)
        if req.track_total_hits < -1:
            raise BadRequest("[track_total_hits] parameter must be positive or equals to -1, "
                             f"got {req.track_total_hits}",
                             error_type="action_request_validation_exception")
    req.total_as_int = params.get("rest_total_hits_as_int") == "true"
    tth = req.track_total_hits
    if req.total_as_int and not isinstance(tth, bool) and tth not in (10000, -1):
        raise BadRequest(f"[rest_total_hits_as_int] cannot be used if the tracking of total "
                         f"hits is not accurate, got {tth}")
    if req.total_as_int and req.track_total_hits is not False:
        req.track_total_hits = True
    req.search_after = body.get("search_after")
    if req.search_after is not None and not isinstance(req.search_after, list):
        raise ParsingError("[search_after] failed to parse field")
    if req.search_after is not None and req.from_ > 0:
        raise BadRequest("[from] parameter must be set to 0 when [search_after] is used",
                         error_type="action_request_validation_exception")
    if body.get("min_score") is not None:
        req.min_score = float(body["min_score"])
    req.aggs = body.get("aggs", body.get("aggregations"))
    if body.get("suggest") is not None:
        req.suggest = parse_suggest(body["suggest"])
    if body.get("post_filter") is not None:
        req.post_filter = parse_query(body["post_filter"])
    req.track_scores = bool(body.get("track_scores", False))
    req.version = bool(body.get("version", params.get("version") == "true"))
    req.seq_no_primary_term = bool(body.get("seq_no_primary_term",
                                            params.get("seq_no_primary_term") == "true"))
    req.explain = bool(body.get("explain", params.get("explain") in ("", "true")))
    req.fields = body.get("fields")
    dv = params.get("docvalue_fields", body.get("docvalue_fields"))
    req.docvalue_fields = dv.split(",") if isinstance(dv, str) else dv
    ta = params.get("terminate_after", body.get("terminate_after"))
    if ta is not None:
        req.terminate_after = _int("terminate_after", ta)
        if req.terminate_after < 0:
            raise BadRequest("terminateAfter must be > 0")
    if body.get("rescore") is not None:
        req.rescore = parse_rescore(body["rescore"])
        _check_rescore_combination(req)
    if body.get("collapse") is not None:
        req.collapse = parse_collapse(body["collapse"])
        _check_collapse_combination(req)
    return req


def _check_rescore_combination(req: SearchRequest) -> None:
    """SearchRequest.validate's refusals next to `rescore`."""
    if req.sort and not (req.sort[0].field == "_score" and req.sort[0].order == "desc"):
        raise ActionRequestValidation("Validation Failed: 1: Cannot use [sort] option in "
                                      "conjunction with [rescore].;")
    if req.retriever is not None or req.rrf is not None:
        raise BadRequest("a top-level [rescore] next to [retriever] or [rank] is not "
                         "supported by the embedded engine")


def _check_collapse_combination(req: SearchRequest) -> None:
    """What Elasticsearch refuses next to `collapse`, and what the engine does not collapse."""
    assert req.collapse is not None
    if req.rescore:
        raise ActionRequestValidation("Validation Failed: 1: cannot use `collapse` in "
                                      "conjunction with `rescore`;")
    if req.search_after is not None and (len(req.sort) != 1 or
                                         req.sort[0].field != req.collapse.field):
        raise BadRequest("Cannot use [collapse] in conjunction with [search_after] unless the "
                         "search is sorted on the same field. Multiple sort fields are not "
                         "allowed.")
    if req.retriever is not None or req.rrf is not None:
        raise BadRequest("a top-level [collapse] next to [retriever] or [rank] is not "
                         "supported by the embedded engine; collapse in the [standard] "
                         "retriever instead")
