"""Legacy index template routes: `PUT/POST/GET/HEAD/DELETE /_template/{name}`."""

from __future__ import annotations

from ..legacy_templates import LegacyTemplates
from ..node import VERSION
from .rest import RestRequest, RestResponse, Router

# RestPutIndexTemplateAction's route deprecation (every put answers with it)
DEPRECATION = "Legacy index templates are deprecated in favor of composable templates."
_MASTER = "master_timeout"


def deprecation_warning(message: str) -> str:
    """The `Warning` header value Elasticsearch's deprecation logger sends."""
    return f'299 Elasticsearch-{VERSION} "{message}"'


def register(router: Router, templates: LegacyTemplates) -> None:
    """Add the legacy template routes served by `templates`."""

    def put(req: RestRequest) -> RestResponse:
        templates.put(req.path_params["name"], req.json(required=True),
                      order=req.int_param("order", 0) or 0, create=req.flag("create"))
        return RestResponse({"acknowledged": True},
                            headers={"Warning": deprecation_warning(DEPRECATION)})

    def get(req: RestRequest) -> RestResponse:
        """A name or pattern matching no template is a 404 with `{}`; no name, all templates."""
        names = req.path_params.get("name")
        found = templates.get(names, req.flag("flat_settings"))
        return RestResponse(found, 200 if found or not names else 404)

    def delete(req: RestRequest) -> RestResponse:
        templates.delete(req.path_params["name"])
        return RestResponse({"acknowledged": True})

    router.add("PUT POST", "/_template/{name}", put, f"{_MASTER} create order cause")
    router.add("GET", "/_template", get, f"{_MASTER} flat_settings local")
    router.add("GET HEAD", "/_template/{name}", get, f"{_MASTER} flat_settings local")
    router.add("DELETE", "/_template/{name}", delete, f"{_MASTER} timeout")
