"""Index routes: create, get, delete, refresh, mappings, settings, aliases, data streams."""

from __future__ import annotations

from ..errors import IndexNotFound, SecurityError
from ..index_admin import IndexAdmin
from ..search.service import resolve_options
from . import cat
from .rest import RestRequest, RestResponse, Router

_RESOLVE = "expand_wildcards ignore_unavailable allow_no_indices"
GET_MAPPINGS = "indices:admin/mappings/get"  # its field-level security filters the mappings
_MASTER = "master_timeout timeout"
_ACK = {"acknowledged": True}
GET_ALIASES = "indices:admin/aliases/get"
# RestAliasAction's table
_ALIAS_COLUMNS = [
    cat.Column("alias", ("a",), "alias name"),
    cat.Column("index", ("i", "idx"), "index alias points to"),
    cat.Column("filter", ("f", "fi"), "filter"),
    cat.Column("routing.index", ("ri", "routingIndex"), "index routing"),
    cat.Column("routing.search", ("rs", "routingSearch"), "search routing"),
    cat.Column("is_write_index", ("w", "isWriteIndex"), "write index"),
]


def register(router: Router, admin: IndexAdmin) -> None:
    """Add the index routes served by `admin`."""

    def opts(req: RestRequest) -> dict:
        return resolve_options(req.params)

    def create(req: RestRequest) -> RestResponse:
        name = admin.create(req.path_params["index"], req.json())
        return RestResponse({"acknowledged": True, "shards_acknowledged": True, "index": name})

    def get(req: RestRequest) -> RestResponse:
        return RestResponse(admin.get(req.path_params["index"], opts(req),
                                      req.flag("flat_settings"), req.flag("include_defaults")))

    def exists(req: RestRequest) -> RestResponse:
        try:
            found = admin.services(req.path_params["index"], opts(req))
        except IndexNotFound:
            found = []
        return RestResponse({}, 200 if found else 404)

    def delete(req: RestRequest) -> RestResponse:
        admin.delete(req.path_params["index"], opts(req))
        return RestResponse(_ACK)

    def refresh(req: RestRequest) -> RestResponse:
        return RestResponse({"_shards": admin.refresh(req.path_params.get("index"), opts(req))})

    def flush(req: RestRequest) -> RestResponse:
        return RestResponse({"_shards": admin.refresh(req.path_params.get("index"), opts(req),
                                                      flush=True)})

    def get_mapping(req: RestRequest) -> RestResponse:
        return RestResponse(admin.get_mapping(
            req.path_params.get("index"), opts(req),
            lambda name: req.scope.fields(name, action=GET_MAPPINGS)))

    def put_mapping(req: RestRequest) -> RestResponse:
        admin.put_mapping(req.path_params["index"], req.json(required=True), opts(req))
        return RestResponse(_ACK)

    def get_settings(req: RestRequest) -> RestResponse:
        return RestResponse(admin.get_settings(req.path_params.get("index"),
                                               req.path_params.get("name"), opts(req),
                                               req.flag("flat_settings"),
                                               req.flag("include_defaults")))

    def analyze(req: RestRequest) -> RestResponse:
        name = req.path_params.get("index") or req.params.get("index")
        return RestResponse(admin.analyze(req.json(required=True), name))

    def put_settings(req: RestRequest) -> RestResponse:
        admin.put_settings(req.path_params.get("index"), req.json(required=True), opts(req))
        return RestResponse(_ACK)

    def put_alias(req: RestRequest) -> RestResponse:
        admin.put_alias(req.path_params["index"], req.path_params["name"], req.json())
        return RestResponse(_ACK)

    def delete_alias(req: RestRequest) -> RestResponse:
        admin.delete_alias(req.path_params["index"], req.path_params["name"])
        return RestResponse(_ACK)

    def update_aliases(req: RestRequest) -> RestResponse:
        admin.update_aliases(req.json(required=True))
        return RestResponse({"acknowledged": True, "errors": False})

    def get_alias(req: RestRequest) -> RestResponse:
        body, ok = admin.get_aliases(req.path_params.get("index"), req.path_params.get("name"),
                                     opts(req))
        return RestResponse(body, 200 if ok else 404)

    def cat_aliases(req: RestRequest) -> RestResponse:
        def readable(index: str) -> bool:  # only the indices the user may get aliases of
            try:
                req.scope.authorize(GET_ALIASES, index)
            except SecurityError:
                return False
            return True

        rows = admin.alias_rows(req.path_params.get("name"),
                                req.params.get("expand_wildcards", "all"), readable)
        return cat.render(req, _ALIAS_COLUMNS, rows)

    def get_data_stream(req: RestRequest) -> RestResponse:
        """The engine has no data streams: a concrete name is Elasticsearch's 404 (clients such
        as `helpers.reindex` ask before writing), a wildcard or no name an empty list."""
        for name in req.path_params.get("name", "*").split(","):
            if name not in ("_all", "") and "*" not in name:
                raise IndexNotFound(name)
        return RestResponse({"data_streams": []})

    get_params = f"{_RESOLVE} {_MASTER} flat_settings include_defaults local features"
    router.add("PUT", "/{index}", create, f"{_MASTER} wait_for_active_shards")
    router.add("GET", "/{index}", get, get_params)
    router.add("HEAD", "/{index}", exists, get_params)
    router.add("DELETE", "/{index}", delete, f"{_RESOLVE} {_MASTER}")
    for prefix in ("", "/{index}"):
        router.add("POST GET", f"{prefix}/_refresh", refresh, _RESOLVE)
        router.add("POST GET", f"{prefix}/_flush", flush, f"{_RESOLVE} force wait_if_ongoing")
        router.add("GET", f"{prefix}/_mapping", get_mapping, f"{_RESOLVE} {_MASTER} local")
        router.add("GET", f"{prefix}/_settings", get_settings,
                   f"{_RESOLVE} {_MASTER} flat_settings include_defaults local")
        router.add("GET", f"{prefix}/_settings/{{name}}", get_settings,
                   f"{_RESOLVE} {_MASTER} flat_settings include_defaults local")
        router.add("PUT", f"{prefix}/_settings", put_settings,
                   f"{_RESOLVE} {_MASTER} flat_settings preserve_existing reopen")
        router.add("GET HEAD", f"{prefix}/_alias", get_alias, f"{_RESOLVE} {_MASTER} local")
        router.add("GET HEAD", f"{prefix}/_alias/{{name}}", get_alias,
                   f"{_RESOLVE} {_MASTER} local")
    router.add("GET POST", "/_analyze", analyze, "index")
    router.add("GET POST", "/{index}/_analyze", analyze, "index")
    router.add("PUT POST", "/{index}/_mapping", put_mapping,
               f"{_RESOLVE} {_MASTER} write_index_only")
    for word in ("_alias", "_aliases"):
        router.add("PUT POST", f"/{{index}}/{word}/{{name}}", put_alias, _MASTER)
        router.add("DELETE", f"/{{index}}/{word}/{{name}}", delete_alias, _MASTER)
    router.add("POST", "/_aliases", update_aliases, _MASTER)
    for path in ("/_cat/aliases", "/_cat/aliases/{name}"):
        router.add("GET", path, cat_aliases, "format h help v expand_wildcards local "
                                             "master_timeout")
    for path in ("/_data_stream", "/_data_stream/{name}"):
        router.add("GET", path, get_data_stream, f"expand_wildcards {_MASTER} verbose")
