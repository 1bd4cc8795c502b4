"""API name -> HTTP method(s) and path templates, as listed in the conformance FORMAT.md table.

Each entry mirrors one rest-api-spec ``<api>.json`` file: the paths an API can be called on, each
with the methods it accepts. ``{part}`` placeholders are path parts; every other parameter of a
``do`` step goes to the query string. ``NDJSON_APIS`` take newline-delimited JSON bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiPath:
    """One path template of an API and the HTTP methods it accepts (first = preferred)."""

    methods: tuple[str, ...]
    template: str

    @property
    def parts(self) -> frozenset[str]:
        """Names of the ``{part}`` placeholders in the template."""
        return frozenset(re.findall(r"\{(\w+)\}", self.template))


def _paths(methods: str, *templates: str) -> list[ApiPath]:
    return [ApiPath(tuple(methods.split("/")), t) for t in templates]


API_SPECS: dict[str, list[ApiPath]] = {
    "bulk": _paths("POST/PUT", "/_bulk", "/{index}/_bulk"),
    "cat.indices": _paths("GET", "/_cat/indices", "/_cat/indices/{index}"),
    "cluster.health": _paths("GET", "/_cluster/health", "/_cluster/health/{index}"),
    "cluster.state": _paths(
        "GET", "/_cluster/state", "/_cluster/state/{metric}", "/_cluster/state/{metric}/{index}"),
    "count": _paths("POST/GET", "/_count", "/{index}/_count"),
    "create": _paths("PUT/POST", "/{index}/_create/{id}"),
    "delete": _paths("DELETE", "/{index}/_doc/{id}"),
    "delete_by_query": _paths("POST", "/{index}/_delete_by_query"),
    "get": _paths("GET", "/{index}/_doc/{id}"),
    "index": _paths("PUT/POST", "/{index}/_doc/{id}") + _paths("POST", "/{index}/_doc"),
    "indices.close": _paths("POST", "/{index}/_close"),
    "indices.create": _paths("PUT", "/{index}"),
    "indices.delete": _paths("DELETE", "/{index}"),
    "indices.exists": _paths("HEAD", "/{index}"),
    "indices.exists_alias": _paths("HEAD", "/_alias/{name}", "/{index}/_alias/{name}"),
    "indices.get": _paths("GET", "/{index}"),
    "indices.get_alias": _paths(
        "GET", "/_alias", "/_alias/{name}", "/{index}/_alias", "/{index}/_alias/{name}"),
    "indices.get_mapping": _paths("GET", "/_mapping", "/{index}/_mapping"),
    "indices.get_settings": _paths(
        "GET", "/_settings", "/_settings/{name}", "/{index}/_settings",
        "/{index}/_settings/{name}"),
    "indices.put_alias": _paths(
        "PUT/POST", "/{index}/_alias/{name}", "/{index}/_aliases/{name}"),
    "indices.put_mapping": _paths("PUT/POST", "/{index}/_mapping"),
    "indices.refresh": _paths("POST/GET", "/_refresh", "/{index}/_refresh"),
    "indices.update_aliases": _paths("POST", "/_aliases"),
    "info": _paths("GET", "/"),
    "ingest.put_pipeline": _paths("PUT", "/_ingest/pipeline/{id}"),
    "ingest.get_pipeline": _paths("GET", "/_ingest/pipeline", "/_ingest/pipeline/{id}"),
    "ingest.delete_pipeline": _paths("DELETE", "/_ingest/pipeline/{id}"),
    "ingest.simulate": _paths(
        "POST/GET", "/_ingest/pipeline/_simulate", "/_ingest/pipeline/{id}/_simulate"),
    "knn_search": _paths("POST/GET", "/{index}/_knn_search"),
    "mget": _paths("POST/GET", "/_mget", "/{index}/_mget"),
    "msearch": _paths("POST/GET", "/_msearch", "/{index}/_msearch"),
    "msearch_template": _paths("POST/GET", "/_msearch/template", "/{index}/_msearch/template"),
    "nodes.stats": _paths(
        "GET",
        "/_nodes/stats",
        "/_nodes/stats/{metric}",
        "/_nodes/stats/{metric}/{index_metric}",
        "/_nodes/{node_id}/stats",
        "/_nodes/{node_id}/stats/{metric}",
        "/_nodes/{node_id}/stats/{metric}/{index_metric}",
    ),
    "put_script": _paths("PUT/POST", "/_scripts/{id}", "/_scripts/{id}/{context}"),
    "rank_eval": _paths("POST/GET", "/_rank_eval", "/{index}/_rank_eval"),
    "render_search_template": _paths(
        "POST/GET", "/_render/template", "/_render/template/{id}"),
    "search": _paths("POST/GET", "/_search", "/{index}/_search"),
    "search_template": _paths("POST/GET", "/_search/template", "/{index}/_search/template"),
    "tasks.get": _paths("GET", "/_tasks/{task_id}"),
    "update": _paths("POST", "/{index}/_update/{id}"),
    "security.authenticate": _paths("GET", "/_security/_authenticate"),
    "security.put_user": _paths("PUT/POST", "/_security/user/{username}"),
    "security.get_user": _paths("GET", "/_security/user", "/_security/user/{username}"),
    "security.delete_user": _paths("DELETE", "/_security/user/{username}"),
    "security.put_role": _paths("PUT/POST", "/_security/role/{name}"),
    "security.get_role": _paths("GET", "/_security/role", "/_security/role/{name}"),
    "security.delete_role": _paths("DELETE", "/_security/role/{name}"),
    "security.create_api_key": _paths("PUT/POST", "/_security/api_key"),
    "security.get_api_key": _paths("GET", "/_security/api_key"),
    "security.invalidate_api_key": _paths("DELETE", "/_security/api_key"),
    "security.clear_api_key_cache": _paths("POST", "/_security/api_key/{ids}/_clear_cache"),
    "security.has_privileges": _paths(
        "POST/GET", "/_security/user/_has_privileges", "/_security/user/{user}/_has_privileges"),
    "security.put_privileges": _paths("PUT/POST", "/_security/privilege"),
    "security.delete_privileges": _paths(
        "DELETE", "/_security/privilege/{application}/{name}"),
}

NDJSON_APIS = frozenset({"bulk", "msearch", "msearch_template"})
