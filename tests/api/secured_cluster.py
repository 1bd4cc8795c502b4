"""A stand-in for a cluster with security enabled: it checks credentials and records who asked."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def basic(user: str, password: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


ALICE = basic("alice", "alice-pw")
MALLORY = basic("mallory", "mallory-pw")
VIEWER = basic("viewer", "viewer-pw")
API_KEY = "ApiKey c2VydmljZTprZXk="
USERS = {ALICE: "alice", MALLORY: "mallory", VIEWER: "viewer", API_KEY: "reporting-key"}
HIT = {"_index": "chunks", "_id": "a#0", "_score": 1.0,
       "_source": {"chunk_id": "a#0", "doc_id": "a", "text": "alpha", "source": "a.md"}}


def _security_error(status: int, reason: str) -> dict[str, Any]:
    error = {"type": "security_exception", "reason": reason}
    return {"error": {"root_cause": [error], **error}, "status": status}


class SecuredCluster:
    """Answers `/`, `_license`, `_xpack` and `_search` like Elasticsearch with security on.

    `requests` holds (method, path, Authorization header) of everything it was sent. Known
    credentials are in USERS; `mallory` may log in but not search; `viewer` may search but
    not read the cluster's version or license (no `monitor` privilege, like most end users).
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                authorization = self.headers.get("Authorization")
                cluster.requests.append((self.command, path, authorization))
                status, body = cluster.respond(path, USERS.get(authorization or ""),
                                               authorization)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="security"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def respond(self, path: str, user: str | None,
                authorization: str | None) -> tuple[int, dict[str, Any]]:
        if user is None:
            reason = ("missing authentication credentials for REST request [" + path + "]"
                      if authorization is None else "unable to authenticate user for REST "
                      "request [" + path + "]")
            return 401, _security_error(401, reason)
        if user == "viewer" and path in ("/", "/_license", "/_xpack"):
            return 403, _security_error(403, f"action [cluster:monitor/main] is unauthorized "
                                             f"for user [{user}]")
        if path == "/":
            return 200, {"version": {"number": "8.15.0", "build_flavor": "default"},
                         "tagline": "You Know, for Search"}
        if path == "/_license":
            return 200, {"license": {"type": "basic", "status": "active"}}
        if path == "/_xpack":
            return 200, {"features": {"security": {"enabled": True}, "ml": {"enabled": False}}}
        if path.endswith("/_search") and user == "mallory":
            return 403, _security_error(403, "action [indices:data/read/search] is "
                                             "unauthorized for user [mallory]")
        result = {"took": 1, "hits": {"total": {"value": 1}, "hits": [HIT]}}
        if path.endswith("/_search"):
            return 200, result
        if path == "/_msearch":
            return 200, {"took": 1, "responses": [result, result]}
        return 404, {"error": {"type": "not_found", "reason": path}, "status": 404}

    def searches(self) -> list[str | None]:
        """The Authorization header of every search request."""
        return [auth for _, path, auth in self.requests if path.endswith("_search")]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
