"""What Elasticsearch 8.x and 9.x answer for the assets es-rag applied, built the way Elasticsearch
builds them (not the way the embedded engine does), and a server that answers with them.

- GET _security/role/<name>: RoleDescriptor.toXContent writes cluster, indices (names,
  privileges, field_security when set, the DLS query as the text of its bytes — an object sent
  in the PUT is copied compactly —, allow_restricted_indices), applications, run_as, metadata,
  transient_metadata `{"enabled": true}`, and description when set (8.15+).
- GET _ingest/pipeline/<id>: the pipeline as sent; 9.1+ adds created_date_millis and
  modified_date_millis.
- GET _scripts/<id>: `{"_id", "found": true, "script": {"lang", "source"}}`.
- GET <index>: settings flattened under `index` with string values and the cluster's own keys
  (uuid, creation_date, version.created, provided_name, routing); mappings with `dynamic` as a
  string and object fields that have properties written without `type: object`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from es_rag.connect import Capabilities


def role_response(body: dict[str, Any]) -> dict[str, Any]:
    """The role descriptor `body` (as PUT) the way GET _security/role/<name> returns it."""
    indices = []
    for entry in body.get("indices", []):
        names = entry["names"]
        out: dict[str, Any] = {"names": [names] if isinstance(names, str) else names,
                               "privileges": entry["privileges"]}
        if "field_security" in entry:
            out["field_security"] = entry["field_security"]
        query = entry.get("query")
        if query is not None:
            out["query"] = query if isinstance(query, str) else json.dumps(
                query, separators=(",", ":"))
        out["allow_restricted_indices"] = entry.get("allow_restricted_indices", False)
        indices.append(out)
    role = {"cluster": body.get("cluster", []), "indices": indices,
            "applications": body.get("applications", []), "run_as": body.get("run_as", []),
            "metadata": body.get("metadata", {}), "transient_metadata": {"enabled": True}}
    if body.get("description") is not None:
        role["description"] = body["description"]
    return role


def pipeline_response(body: dict[str, Any], major: int) -> dict[str, Any]:
    """The pipeline `body` the way GET _ingest/pipeline/<id> returns it on `major`.x."""
    if major < 9:
        return body
    return {**body, "created_date_millis": 1765100000000, "modified_date_millis": 1765100000000}


def script_response(name: str, script: dict[str, Any]) -> dict[str, Any]:
    """A stored mustache script the way GET _scripts/<id> returns it."""
    return {"_id": name, "found": True,
            "script": {"lang": script.get("lang", "mustache"), "source": script["source"]}}


def _stored_mapping(node: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in node.items():
        if key == "dynamic":
            out[key] = str(value).lower()
        elif key == "properties":
            out[key] = {name: _stored_mapping(spec) for name, spec in value.items()}
        elif key == "type" and value == "object" and node.get("properties"):
            continue  # ObjectMapper writes `type: object` only for an object without properties
        else:
            out[key] = value
    return out


def index_response(name: str, body: dict[str, Any], version_id: str) -> dict[str, Any]:
    """An index created with `body` the way GET <index> returns it."""
    settings = {key.removeprefix("index."): str(value)
                for key, value in body.get("settings", {}).items()}
    settings.update({"routing": {"allocation": {"include": {"_tier_preference": "data_content"}}},
                     "provided_name": name, "creation_date": "1765100000000",
                     "uuid": "b4sPq1cVQ9yIqa0ZxR2f3w", "version": {"created": version_id}})
    return {name: {"aliases": {}, "mappings": _stored_mapping(body.get("mappings", {})),
                   "settings": {"index": settings}}}


def capabilities(url: str, major: int) -> Capabilities:
    """What es-rag learns from an Elasticsearch `major`.x cluster with security on."""
    return Capabilities(url=url, engine="elasticsearch", version=f"{major}.1.0", major=major,
                        minor=1, distribution="default", license_type="trial",
                        license_status="active", security_enabled=True, retriever=True,
                        rank_rrf=False, rrf_licensed=True, ml_inference=True, dls=True)


@contextmanager
def answering(responses: dict[str, dict[str, Any]]) -> Iterator[str]:
    """Serve `responses` (GET path -> JSON body; any other path is a 404) on 127.0.0.1."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
            path = unquote(urlsplit(self.path).path)
            body = responses.get(path)
            status = 200 if body is not None else 404
            data = json.dumps(body if body is not None else {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
