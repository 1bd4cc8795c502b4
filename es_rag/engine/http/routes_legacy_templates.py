"""Legacy index template routes: `PUT/POST/GET/HEAD/DELETE /_template/{name}`."""

from __future__ import annotations

from ..deprecation import warn
from ..legacy_templates import LegacyTemplates
from . import cat
from .rest import RestRequest, RestResponse, Router

# RestPutIndexTemplateAction's route deprecation (every put answers with it)
DEPRECATION = "Legacy index templates are deprecated in favor of composable templates."
_MASTER = "master_timeout"
# RestTemplatesAction's table
_CAT_COLUMNS = [
    cat.Column("name", ("n",), "template name"),
    cat.Column("index_patterns", ("t",), "template index patterns"),
    cat.Column("order", ("o", "p"), "template application order/priority number"),
    cat.Column("version", ("v",), "version"),
    cat.Column("composed_of", ("c",), "component templates comprising index template"),
]


def register(router: Router, templates: LegacyTemplates) -> None:
    """Add the legacy template routes served by `templates`."""

    def put(req: RestRequest) -> RestResponse:
        warn(DEPRECATION)
        templates.put(req.path_params["name"], req.json(required=True),
                      order=req.int_param("order", 0) or 0, create=req.flag("create"))
        return RestResponse({"acknowledged": True})

    def get(req: RestRequest) -> RestResponse:
        """A name or pattern matching no template is a 404 with `{}`; no name, all templates."""
        names = req.path_params.get("name")
        found = templates.get(names, req.flag("flat_settings"))
        return RestResponse(found, 200 if found or not names else 404)

    def delete(req: RestRequest) -> RestResponse:
        templates.delete(req.path_params["name"])
        return RestResponse({"acknowledged": True})

    def cat_templates(req: RestRequest) -> RestResponse:
        """`_cat/templates[/{name}]`: a row per template (`name` a `*` pattern)."""
        rows = [{"name": name, "index_patterns": f"[{', '.join(t['index_patterns'])}]",
                 "order": str(t["order"]), "version": str(t.get("version", "")),
                 "composed_of": ""}
                for name, t in templates.get(req.path_params.get("name")).items()]
        return cat.render(req, _CAT_COLUMNS, rows)

    router.add("PUT POST", "/_template/{name}", put, f"{_MASTER} create order cause")
    router.add("GET", "/_template", get, f"{_MASTER} flat_settings local")
    router.add("GET HEAD", "/_template/{name}", get, f"{_MASTER} flat_settings local")
    router.add("DELETE", "/_template/{name}", delete, f"{_MASTER} timeout")
    for path in ("/_cat/templates", "/_cat/templates/{name}"):
        router.add("GET", path, cat_templates, f"{_MASTER} format h help v local")
