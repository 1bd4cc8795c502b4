"""The Elasticsearch action each REST endpoint performs, for authorizing requests.

`request_action(method, path)` names the action of a request and the index expression it
targets, so the HTTP layer can authorize every request in one place (a request it cannot name is
refused). Composite requests (bulk, mget, msearch, reindex, alias actions, templates rendering)
are authorized once without indices, then per item on the item's own index: bulk items with
`ITEM_ACTIONS`, alias actions with `ALIASES` on both the index and the alias. `REST_ACTIONS`
gives the same actions by REST API spec name.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

READ_SEARCH = "indices:data/read/search"
READ_GET = "indices:data/read/get"
ALIASES = "indices:admin/aliases"
AUTO_CREATE = "indices:admin/auto_create"
_ML_ADMIN = "cluster:admin/xpack/ml/"
_ML_MONITOR = "cluster:monitor/xpack/ml/"
_MODEL = "/_ml/trained_models/{id}"
_MODELS = "/_ml/trained_models[/{id}]"
_LICENSE_ADMIN = "cluster:admin/xpack/license/"
_PIPELINE = "cluster:admin/ingest/pipeline/"
_INDEX_TEMPLATE = "indices:admin/index_template/"
_TEMPLATE = "indices:admin/template/"


@dataclass(frozen=True)
class Endpoint:
    """`methods path` (with `{index}`, `{id}`, `{name}` parts) performing `action`."""

    api: str
    methods: tuple[str, ...]
    path: str
    action: str
    composite: bool = False


@dataclass(frozen=True)
class RequestAction:
    """What a request does: its action, and the index expression it names (None: all)."""

    api: str
    action: str
    index: str | None
    composite: bool
    pattern: str = ""
    """the endpoint's path pattern (`/{index}/_settings`)"""


def _e(api: str, methods: str, path: str, action: str, composite: bool = False
       ) -> tuple[Endpoint, ...]:
    return tuple(Endpoint(api, tuple(methods.split()), p, action, composite)
                 for p in _paths(path))


def _paths(path: str) -> list[str]:
    """`path` with each `[optional part]` left out, then put in: `[/{index}]/_search` gives
    `/_search` and `/{index}/_search`."""
    if "[" not in path:
        return [path]
    before, rest = path.split("[", 1)
    part, after = rest.split("]", 1)
    return [before + p for p in (*_paths(after), *_paths(part + after))]


_ROUTES: tuple[tuple[Endpoint, ...], ...] = (
    # reads
    _e("search", "GET POST", "[/{index}]/_search", READ_SEARCH),
    _e("search_template", "GET POST", "[/{index}]/_search/template", READ_SEARCH),
    _e("knn_search", "GET POST", "/{index}/_knn_search", READ_SEARCH),
    _e("count", "GET POST", "[/{index}]/_count", READ_SEARCH),
    # a scroll or PIT continues only for the user who opened it (reader_context.py)
    _e("scroll", "GET POST", "/_search/scroll[/{id}]", "indices:data/read/scroll", True),
    _e("clear_scroll", "DELETE", "/_search/scroll[/{id}]", "indices:data/read/scroll/clear",
       True),
    _e("open_point_in_time", "POST", "/{index}/_pit", "indices:data/read/open_point_in_time"),
    _e("close_point_in_time", "DELETE", "/_pit", "indices:data/read/close_point_in_time", True),
    _e("msearch", "GET POST", "[/{index}]/_msearch", "indices:data/read/msearch", True),
    _e("msearch_template", "GET POST", "[/{index}]/_msearch/template",
       "indices:data/read/msearch/template", True),
    _e("render_search_template", "GET POST", "/_render/template[/{id}]",
       "indices:data/read/search/template", True),
    _e("get", "GET HEAD", "/{index}/_doc/{id}", READ_GET),
    _e("get_source", "GET HEAD", "/{index}/_source/{id}", READ_GET),
    _e("mget", "GET POST", "[/{index}]/_mget", "indices:data/read/mget", True),
    _e("explain", "GET POST", "/{index}/_explain/{id}", "indices:data/read/explain"),
    _e("field_caps", "GET POST", "[/{index}]/_field_caps", "indices:data/read/field_caps"),
    _e("rank_eval", "GET POST", "[/{index}]/_rank_eval", "indices:data/read/rank_eval"),
    # writes
    _e("index", "PUT POST", "/{index}/_doc/{id}", "indices:data/write/index:op_type/index"),
    _e("index", "POST", "/{index}/_doc", "indices:data/write/index:op_type/create"),
    _e("create", "PUT POST", "/{index}/_create/{id}", "indices:data/write/index:op_type/create"),
    _e("update", "POST", "/{index}/_update/{id}", "indices:data/write/update"),
    _e("delete", "DELETE", "/{index}/_doc/{id}", "indices:data/write/delete"),
    _e("bulk", "PUT POST", "[/{index}]/_bulk", "indices:data/write/bulk", True),
    _e("delete_by_query", "POST", "/{index}/_delete_by_query",
       "indices:data/write/delete/byquery"),
    _e("update_by_query", "POST", "/{index}/_update_by_query",
       "indices:data/write/update/byquery"),
    # the source is read (with DLS) and the destination written item by item, as the user
    _e("reindex", "POST", "/_reindex", "indices:data/write/reindex", True),
    # index administration
    _e("indices.create", "PUT", "/{index}", "indices:admin/create"),
    _e("indices.delete", "DELETE", "/{index}", "indices:admin/delete"),
    _e("indices.get", "GET HEAD", "/{index}", "indices:admin/get"),
    _e("indices.get_mapping", "GET", "[/{index}]/_mapping", "indices:admin/mappings/get"),
    _e("indices.put_mapping", "PUT POST", "/{index}/_mapping", "indices:admin/mapping/put"),
    _e("indices.get_settings", "GET", "[/{index}]/_settings[/{name}]",
       "indices:admin/settings/get"),
    _e("indices.put_settings", "PUT", "[/{index}]/_settings", "indices:admin/settings/update"),
    _e("indices.refresh", "GET POST", "[/{index}]/_refresh", "indices:admin/refresh"),
    _e("indices.flush", "GET POST", "[/{index}]/_flush", "indices:admin/flush"),
    _e("indices.forcemerge", "POST", "[/{index}]/_forcemerge", "indices:admin/forcemerge"),
    _e("indices.open", "POST", "/{index}/_open", "indices:admin/open"),
    _e("indices.close", "POST", "/{index}/_close", "indices:admin/close"),
    _e("indices.get_alias", "GET HEAD", "[/{index}]/_alias[/{name}]",
       "indices:admin/aliases/get"),
    _e("indices.put_alias", "PUT POST", "/{index}/_alias/{name}", ALIASES, True),
    _e("indices.put_alias", "PUT POST", "/{index}/_aliases/{name}", ALIASES, True),
    _e("indices.delete_alias", "DELETE", "/{index}/_alias/{name}", ALIASES, True),
    _e("indices.delete_alias", "DELETE", "/{index}/_aliases/{name}", ALIASES, True),
    _e("indices.update_aliases", "POST", "/_aliases", ALIASES, True),
    _e("indices.get_data_stream", "GET", "/_data_stream[/{name}]",
       "indices:admin/data_stream/get", True),
    _e("indices.stats", "GET", "[/{index}]/_stats", "indices:monitor/stats"),
    _e("indices.analyze", "GET POST", "/_analyze", "indices:admin/analyze", True),
    _e("indices.analyze", "GET POST", "/{index}/_analyze", "indices:admin/analyze"),
    _e("cat.indices", "GET", "/_cat/indices[/{index}]", "indices:monitor/stats"),
    _e("cat.count", "GET POST", "/_cat/count[/{index}]", READ_SEARCH),
    # allowed where some role grants it; the handler lists only the indices the user may
    _e("cat.aliases", "GET", "/_cat/aliases[/{name}]", "indices:admin/aliases/get", True),
    # cluster
    _e("info", "GET HEAD", "/", "cluster:monitor/main"),
    _e("cluster.health", "GET", "/_cluster/health[/{index}]", "cluster:monitor/health"),
    _e("cat.health", "GET", "/_cat/health", "cluster:monitor/health"),
    _e("cat.templates", "GET", "/_cat/templates[/{name}]", "cluster:monitor/state"),
    _e("cluster.state", "GET", "/_cluster/state", "cluster:monitor/state"),
    _e("cluster.state", "GET", "/_cluster/state/{name}[/{index}]", "cluster:monitor/state"),
    _e("cluster.stats", "GET", "/_cluster/stats", "cluster:monitor/stats"),
    _e("cluster.get_settings", "GET", "/_cluster/settings", "cluster:monitor/settings"),
    _e("cluster.put_settings", "PUT", "/_cluster/settings", "cluster:admin/settings/update"),
    _e("nodes.info", "GET", "/_nodes", "cluster:monitor/nodes/info"),
    _e("nodes.stats", "GET", "/_nodes/stats", "cluster:monitor/nodes/stats"),
    _e("tasks.get", "GET", "/_tasks/{id}", "cluster:monitor/task/get"),
    _e("capabilities", "GET", "/_capabilities", "cluster:monitor/nodes/capabilities"),
    _e("license.get", "GET", "/_license", "cluster:monitor/xpack/license/get"),
    _e("license.post", "PUT POST", "/_license", _LICENSE_ADMIN + "put"),
    _e("license.get_basic_status", "GET", "/_license/basic_status",
       _LICENSE_ADMIN + "basic_status"),
    _e("license.get_trial_status", "GET", "/_license/trial_status",
       _LICENSE_ADMIN + "trial_status"),
    _e("license.post_start_basic", "POST", "/_license/start_basic",
       _LICENSE_ADMIN + "start_basic"),
    _e("license.post_start_trial", "POST", "/_license/start_trial",
       _LICENSE_ADMIN + "start_trial"),
    _e("xpack.info", "GET", "/_xpack", "cluster:monitor/xpack/info"),
    _e("ingest.get_pipeline", "GET", "/_ingest/pipeline[/{id}]", _PIPELINE + "get"),
    _e("ingest.put_pipeline", "PUT", "/_ingest/pipeline/{id}", _PIPELINE + "put"),
    _e("ingest.processor_grok", "GET", "/_ingest/processor/grok",
       "cluster:admin/ingest/processor/grok/get"),
    _e("ingest.delete_pipeline", "DELETE", "/_ingest/pipeline/{id}", _PIPELINE + "delete"),
    _e("ingest.simulate", "GET POST", "/_ingest/pipeline[/{id}]/_simulate",
       _PIPELINE + "simulate"),
    _e("get_script", "GET", "/_scripts/{id}", "cluster:admin/script/get"),
    _e("put_script", "PUT POST", "/_scripts/{id}[/{name}]", "cluster:admin/script/put"),
    _e("delete_script", "DELETE", "/_scripts/{id}", "cluster:admin/script/delete"),
    _e("indices.get_template", "GET HEAD", "/_template[/{name}]", _TEMPLATE + "get"),
    _e("indices.put_template", "PUT POST", "/_template/{name}", _TEMPLATE + "put"),
    _e("indices.delete_template", "DELETE", "/_template/{name}", _TEMPLATE + "delete"),
    _e("indices.get_index_template", "GET", "/_index_template[/{name}]",
       _INDEX_TEMPLATE + "get"),
    _e("indices.put_index_template", "PUT POST", "/_index_template/{name}",
       _INDEX_TEMPLATE + "put"),
    _e("indices.delete_index_template", "DELETE", "/_index_template/{name}",
       _INDEX_TEMPLATE + "delete"),
    _e("inference.get", "GET", "/_inference[/{name}][/{id}]",
       "cluster:monitor/xpack/inference/get"),
    _e("inference.update", "PUT", "/_inference[/{name}]/{id}/_update",
       "cluster:admin/xpack/inference/update"),
    _e("inference.put", "PUT", "/_inference[/{name}]/{id}", "cluster:admin/xpack/inference/put"),
    _e("inference.delete", "DELETE", "/_inference[/{name}]/{id}",
       "cluster:admin/xpack/inference/delete"),
    _e("inference.inference", "POST", "/_inference[/{name}]/{id}",
       "cluster:monitor/xpack/inference"),
    # trained models (the ingest inference processor and kNN's query_vector_builder run the
    # model as Elasticsearch's ML origin: they need no ML privilege of the user)
    _e("ml.put_trained_model", "PUT", _MODEL, _ML_ADMIN + "inference/put"),
    _e("ml.get_trained_models", "GET", _MODELS, _ML_MONITOR + "inference/get"),
    _e("ml.get_trained_models_stats", "GET", _MODELS + "/_stats",
       _ML_MONITOR + "inference/stats/get"),
    _e("ml.delete_trained_model", "DELETE", _MODEL, _ML_ADMIN + "inference/delete"),
    _e("ml.put_trained_model_vocabulary", "PUT", _MODEL + "/vocabulary",
       _ML_ADMIN + "trained_models/vocabulary/put"),
    _e("ml.put_trained_model_definition_part", "PUT", _MODEL + "/definition/{name}",
       _ML_ADMIN + "trained_models/part/put"),
    _e("ml.start_trained_model_deployment", "POST", _MODEL + "/deployment/_start",
       _ML_ADMIN + "trained_models/deployment/start"),
    _e("ml.stop_trained_model_deployment", "POST", _MODEL + "/deployment/_stop",
       _ML_ADMIN + "trained_models/deployment/stop"),
    _e("ml.infer_trained_model", "POST", _MODEL + "/_infer", _ML_MONITOR + "inference/infer"),
    _e("ml.infer_trained_model", "POST", _MODEL + "/deployment/_infer",
       _ML_MONITOR + "trained_models/deployment/infer"),
    _e("ml.info", "GET", "/_ml/info", _ML_MONITOR + "info/get"),
)
ENDPOINTS: tuple[Endpoint, ...] = tuple(e for route in _ROUTES for e in route)

# per item of a composite request, after the composite action itself is authorized
ITEM_ACTIONS: dict[str, str] = {
    "msearch": READ_SEARCH,
    "msearch_template": READ_SEARCH,
    "mget": READ_GET,
    "bulk.index": "indices:data/write/index:op_type/index",
    "bulk.create": "indices:data/write/index:op_type/create",
    "bulk.update": "indices:data/write/update",
    "bulk.delete": "indices:data/write/delete",
}

# by API name; the first endpoint of an API wins (`index` with an id is op_type index)
REST_ACTIONS: dict[str, str] = dict(reversed([(e.api, e.action) for e in ENDPOINTS]))

# reads whose results must be narrowed by `Security.dls_query`
DLS_APIS = frozenset({"search", "count", "search_template", "knn_search", "msearch",
                      "msearch_template", "get", "get_source", "mget", "explain", "rank_eval",
                      "cat.count", "delete_by_query", "update_by_query"})

# Elasticsearch refuses updates (and bulk update items) on an index where DLS applies (400),
# alias additions on such an index (400), and an alias granting more than its index (403)
DLS_UPDATE_REFUSED = ("Can't execute an update request if field or document level security is "
                      "enabled")
DLS_BULK_UPDATE_REFUSED = ("Can't execute a bulk item request with update requests embedded if "
                           "field or document level security is enabled")
DLS_ALIAS_REFUSED = ("Alias requests are not allowed for users who have field or document level "
                     "security enabled on one of the indices")
ALIAS_WIDER_REFUSED = ("Adding an alias is not allowed when the alias has more permissions than "
                       "any of the indices")


def request_action(method: str, path: str) -> RequestAction | None:
    """The action of `method path` and the index expression it names; None when the path is
    not one of `ENDPOINTS` (security endpoints are authorized by their route in
    `http/routes_security.py`). `HEAD` is served by the `GET` handler where there is no `HEAD`
    endpoint, so it performs the same action."""
    parts = [unquote(p) for p in path.split("/") if p]
    method = method.upper()
    if method == "HEAD":
        return _request_action("HEAD", parts) or _request_action("GET", parts)
    return _request_action(method, parts)


def _request_action(method: str, parts: list[str]) -> RequestAction | None:
    best: tuple[int, Endpoint, str | None] | None = None
    for endpoint in ENDPOINTS:
        if method not in endpoint.methods:
            continue
        matched = _match(endpoint.path, parts)
        if matched is None:
            continue
        literal, index = matched
        if best is None or literal > best[0]:
            best = (literal, endpoint, index)
    if best is None:
        return None
    _, endpoint, index = best
    return RequestAction(endpoint.api, endpoint.action, index, endpoint.composite, endpoint.path)


def _match(pattern: str, parts: list[str]) -> tuple[int, str | None] | None:
    segments = [s for s in pattern.split("/") if s]
    if len(segments) != len(parts):
        return None
    literal, index = 0, None
    for segment, part in zip(segments, parts, strict=True):
        if segment.startswith("{"):
            if segment == "{index}":
                if part.startswith("_") and part != "_all":
                    return None
                index = part
        elif segment == part:
            literal += 1
        else:
            return None
    return literal, index
