"""Reset the target between tests the way Elasticsearch's REST test base class does (wipeCluster):
data streams, indices (hidden ones too, the `.security` system index included, as
`preserveSecurityIndicesUponCompletion()` is false by default: native users, roles and API keys
go with it), non-managed templates, inference endpoints, persistent/transient settings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from elasticsearch import Elasticsearch

from .api_call import Request, Response, send

# Statuses by which a target says it does not have an API at all.
_API_MISSING = frozenset({400, 404, 405, 501})
# The security system index: deleting it drops native users, roles and API keys.
_SECURITY_INDEX = ".security-7"
_CHUNK = 50


class WipeError(RuntimeError):
    """The target refused to reset part of its state: the next test would not start clean."""


class ClusterWiper:
    """Wipes one target; remembers which optional APIs (templates, data streams...) it lacks."""

    def __init__(self, client: Elasticsearch, timeout: float = 30.0) -> None:
        self._client = client
        self._timeout = timeout
        self._lacking: set[str] = set()

    def wipe(self) -> None:
        """Delete everything a test may have left behind; raises WipeError on a real failure."""
        self._delete_listed("/_data_stream", "data_streams", "/_data_stream/{}",
                            lambda body: [d["name"] for d in body.get("data_streams", [])])
        self._delete_indices()
        self._delete_listed("/_index_template", "index_templates", "/_index_template/{}",
                            lambda body: [t["name"] for t in body.get("index_templates", [])
                                          if not _is_managed(t["name"], t.get("index_template"))])
        self._delete_listed("/_component_template", "component_templates",
                            "/_component_template/{}",
                            lambda body: [t["name"] for t in body.get("component_templates", [])
                                          if not _is_managed(t["name"],
                                                             t.get("component_template"))])
        # one by one, as ESRestTestCase does: `DELETE _template/{name}` takes one name (or
        # pattern), not a comma list
        self._delete_listed("/_template", "legacy_templates", "/_template/{}",
                            lambda body: [n for n in body if not n.startswith(".")], chunk=1)
        self._delete_inference_endpoints()
        self._reset_cluster_settings()

    def _delete_inference_endpoints(self) -> None:
        """Inference endpoints, as the inference plugin's YAML test suite deletes them after
        each test (preconfigured `.`-prefixed ones stay)."""
        listing = self._probe("inference_endpoints", "/_inference/_all")
        if listing is None or not isinstance(listing.body, dict):
            return
        for endpoint in listing.body.get("endpoints", []):
            inference_id = endpoint.get("inference_id", "")
            if inference_id and not inference_id.startswith("."):
                path = f"/_inference/{inference_id}"
                response = self._call("DELETE", path, {"force": "true"})
                if response.status != 404:
                    _check(response, f"DELETE {path}")

    def _call(self, method: str, path: str, params: dict[str, str] | None = None,
              body: object = None) -> Response:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        return send(self._client, Request("wipe", method, path, params or {}, headers, body),
                    self._timeout)

    def _probe(self, name: str, path: str, params: dict[str, str] | None = None) -> Response | None:
        """GET a listing; None when the target lacks that API (remembered for later wipes)."""
        if name in self._lacking:
            return None
        response = self._call("GET", path, params)
        if response.status in _API_MISSING:
            self._lacking.add(name)
            return None
        _check(response, f"GET {path}")
        return response

    def _delete_indices(self) -> None:
        listing = self._call("GET", "/*", {"expand_wildcards": "all"})
        if listing.status == 404:
            return
        _check(listing, "GET /*?expand_wildcards=all")
        if not isinstance(listing.body, dict):
            raise WipeError(f"GET /*?expand_wildcards=all did not answer a map: {listing.text()}")
        names = [n for n in listing.body if not n.startswith(".ds-")]
        self._delete_in_chunks("/{}", names, {"expand_wildcards": "all"})
        if not any(n.startswith(".security") for n in names):
            # a target that does not list its security index (the embedded engine) still
            # drops the native realm when it is deleted by name; 404 when there is none
            self._delete_in_chunks("/{}", [_SECURITY_INDEX], {})

    def _delete_listed(self, list_path: str, name: str, delete_path: str,
                       names_of: Callable[[Any], list[str]], chunk: int = _CHUNK) -> None:
        listing = self._probe(name, list_path)
        if listing is None or not isinstance(listing.body, dict):
            return
        self._delete_in_chunks(delete_path, names_of(listing.body), {}, chunk)

    def _delete_in_chunks(self, path: str, names: Iterable[str], params: dict[str, str],
                          chunk: int = _CHUNK) -> None:
        names = list(names)
        for start in range(0, len(names), chunk):
            target = path.format(",".join(names[start:start + chunk]))
            response = self._call("DELETE", target, params)
            if response.status != 404:
                _check(response, f"DELETE {target}")

    def _reset_cluster_settings(self) -> None:
        current = self._probe("cluster_settings", "/_cluster/settings")
        if current is None or not isinstance(current.body, dict):
            return
        if current.body.get("persistent") or current.body.get("transient"):
            body = {"persistent": {"*": None}, "transient": {"*": None}}
            _check(self._call("PUT", "/_cluster/settings", body=body), "PUT /_cluster/settings")


def _is_managed(name: str, template: dict[str, Any] | None) -> bool:
    meta = (template or {}).get("_meta") or {}
    return name.startswith(".") or bool(meta.get("managed"))


def _check(response: Response, what: str) -> None:
    if response.is_error:
        raise WipeError(f"{what} answered {response.status}: {response.text()[:500]}")
