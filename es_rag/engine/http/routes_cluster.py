"""Root info, cluster health, license, `_cat/indices` and `_capabilities` routes."""

from __future__ import annotations

from ..cluster import ClusterService
from ..errors import BadRequest
from ..node import VERSION
from ..search.service import resolve_options
from . import cat
from .capabilities import supported
from .rest import Handler, RestRequest, RestResponse, Router

_HEALTH_PARAMS = ("wait_for_status timeout level wait_for_active_shards local master_timeout "
                  "wait_for_no_relocating_shards wait_for_no_initializing_shards wait_for_nodes "
                  "wait_for_events expand_wildcards")
_ACCEPT_ENTERPRISE_DEPRECATED = ("[CRITICAL] Including [accept_enterprise] in get license "
                                "requests is deprecated. The parameter will be removed in the "
                                "next major version")
_CAT_PARAMS = "format v h s bytes health pri expand_wildcards help time master_timeout local"
# cat column → (aliases)
_CAT_COLUMNS = {
    "health": ("h",), "status": ("s",), "index": ("i", "idx"), "uuid": ("id",),
    "pri": ("p", "shards.primary", "shardsPrimary"), "rep": ("r", "shards.replica"),
    "docs.count": ("dc", "docsCount"), "docs.deleted": ("dd", "docsDeleted"),
    "store.size": ("ss", "storeSize"), "pri.store.size": (), "dataset.size": (),
    "creation.date": ("cd",), "creation.date.string": ("cds",),
}
_DEFAULT_CAT = ["health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted",
                "store.size", "pri.store.size", "dataset.size"]
# the descriptions `?help` lists (RestIndicesAction's table)
_CAT_HELP = {
    "health": "current health status", "status": "open/close status", "index": "index name",
    "uuid": "index uuid", "pri": "number of primary shards", "rep": "number of replica shards",
    "docs.count": "available docs", "docs.deleted": "deleted docs",
    "store.size": "store size of primaries & replicas", "pri.store.size": "store size of primaries",
    "dataset.size": "total size of dataset", "creation.date": "index creation date (millisecond "
    "value)", "creation.date.string": "index creation date (as string)",
}


def register(router: Router, cluster: ClusterService) -> None:
    """Add the cluster routes served by `cluster`."""

    def info(req: RestRequest) -> RestResponse:
        return RestResponse(cluster.info())

    def health(req: RestRequest) -> RestResponse:
        body, status = cluster.health(req.path_params.get("index"), resolve_options(req.params),
                                      req.params.get("level", "cluster"),
                                      req.params.get("wait_for_status"))
        return RestResponse(body, status)

    def license_get(req: RestRequest) -> RestResponse:
        return _accept_enterprise(req, RestResponse(cluster.license()))

    def license_put(req: RestRequest) -> RestResponse:
        return RestResponse(cluster.put_license(req.json(), req.flag("acknowledge")))

    def start(kind: str) -> Handler:
        def handler(req: RestRequest) -> RestResponse:
            body, status = cluster.start_license(kind, req.flag("acknowledge"))
            return RestResponse(body, status)
        return handler

    def basic_status(req: RestRequest) -> RestResponse:
        return RestResponse(cluster.basic_status())

    def trial_status(req: RestRequest) -> RestResponse:
        return RestResponse(cluster.trial_status())

    def cat_indices(req: RestRequest) -> RestResponse:
        if req.flag("help"):
            return RestResponse(cat.help_text([
                cat.Column(name, aliases, _CAT_HELP[name])
                for name, aliases in _CAT_COLUMNS.items()]), text=True)
        opts = resolve_options(req.params)
        opts["expand_wildcards"] = req.params.get("expand_wildcards", "all")
        rows = cluster.index_rows(req.path_params.get("index"), opts, req.params.get("health"))
        columns = _cat_columns(req.params.get("h"))
        if req.params.get("format") == "json":
            return RestResponse([{c: r[c] for c in columns} for r in rows])
        table = [[r[c] for c in columns] for r in rows]
        if req.flag("v"):
            table.insert(0, columns)
        if not table:
            return RestResponse("", text=True)
        widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
        lines = [" ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
                 for row in table]
        return RestResponse("\n".join(lines) + "\n", text=True)

    def capabilities(req: RestRequest) -> RestResponse:
        names = [c for c in req.params.get("capabilities", "").split(",") if c]
        return RestResponse({"supported": supported(
            req.params.get("method", "GET"), req.params.get("path", "/"), names)})

    def get_settings(req: RestRequest) -> RestResponse:
        return RestResponse(cluster.settings(req.flag("flat_settings"),
                                             req.flag("include_defaults")))

    def put_settings(req: RestRequest) -> RestResponse:
        return RestResponse(cluster.put_settings(req.json(), req.flag("flat_settings")))

    def xpack(req: RestRequest) -> RestResponse:
        return _accept_enterprise(req, RestResponse(cluster.xpack(_xpack_categories(
            req.params.get("categories", "_all")))))

    router.add("GET HEAD", "/", info)
    router.add("GET", "/_cluster/health", health, _HEALTH_PARAMS)
    router.add("GET", "/_cluster/health/{index}", health,
               _HEALTH_PARAMS + " ignore_unavailable allow_no_indices")
    router.add("GET", "/_license", license_get, "local accept_enterprise")
    router.add("PUT POST", "/_license", license_put, "acknowledge master_timeout timeout")
    router.add("POST", "/_license/start_basic", start("basic"), "acknowledge master_timeout "
                                                                "timeout")
    router.add("POST", "/_license/start_trial", start("trial"), "acknowledge type "
                                                                "master_timeout")
    router.add("GET", "/_license/basic_status", basic_status)
    router.add("GET", "/_license/trial_status", trial_status)
    router.add("GET", "/_cat/indices", cat_indices, _CAT_PARAMS)
    router.add("GET", "/_cat/indices/{index}", cat_indices, _CAT_PARAMS)
    router.add("GET", "/_capabilities", capabilities, "method path parameters capabilities "
                                                      "local_only")
    router.add("GET", "/_xpack", xpack, "categories accept_enterprise")
    router.add("GET", "/_cluster/settings", get_settings,
               "flat_settings include_defaults master_timeout timeout")
    router.add("PUT", "/_cluster/settings", put_settings, "flat_settings master_timeout timeout")


def _accept_enterprise(req: RestRequest, response: RestResponse) -> RestResponse:
    """`accept_enterprise` (deprecated, may only be true) on GET _license and GET _xpack: the
    response with Elasticsearch's critical deprecation warning, or a 400 carrying it."""
    if "accept_enterprise" not in req.params:
        return response
    warning = {"Warning": f'299 Elasticsearch-{VERSION} "{_ACCEPT_ENTERPRISE_DEPRECATED}"'}
    if not req.flag("accept_enterprise", True):
        error = BadRequest("The [accept_enterprise] parameters may not be false")
        error.headers = warning
        raise error
    response.headers.update(warning)
    return response


def _xpack_categories(value: str) -> set[str]:
    """XPackInfoRequest.Category.toSet: `_all`, `_none`, or names of build/license/features."""
    wanted: set[str] = set()
    for name in value.split(","):
        if name == "_all":
            return {"build", "license", "features"}
        if name == "_none":
            return set()
        if name.lower() not in ("build", "license", "features"):
            raise BadRequest("No enum constant org.elasticsearch.protocol.xpack.XPackInfoRequest"
                             f".Category.{name.upper()}")
        wanted.add(name.lower())
    return wanted


def _cat_columns(spec: str | None) -> list[str]:
    if not spec:
        return list(_DEFAULT_CAT)
    out = []
    for name in spec.split(","):
        name = name.strip()
        for column, aliases in _CAT_COLUMNS.items():
            if name == column or name in aliases:
                out.append(column)
                break
        else:
            raise BadRequest(f"Unknown header: [{name}]")
    return out
