"""Connecting: clear one-line errors, and the compatibility header follows the server's major."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from es_rag.config import load_settings
from es_rag.connect import ConnectError, connect


class FakeServer:
    """A scripted HTTP server: answers each path from a table and records request headers."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, Any]]], product: bool = True):
        self.routes = routes
        self.seen: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                fake.seen.append((self.path, self.headers.get("Accept", "")))
                status, body = fake.routes.get(self.path.split("?")[0], (404, {"error": "x"}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if product:
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _es_routes(version: str, license_type: str = "basic") -> dict[str, tuple[int, dict]]:
    return {
        "/": (200, {"version": {"number": version, "build_flavor": "default"},
                    "tagline": "You Know, for Search"}),
        "/_license": (200, {"license": {"type": license_type, "status": "active"}}),
        "/_xpack": (200, {"features": {"security": {"enabled": True}, "ml": {"enabled": True}}}),
    }


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    servers: list[FakeServer] = []

    def make(*args: Any, **kwargs: Any) -> FakeServer:
        servers.append(FakeServer(*args, **kwargs))
        return servers[-1]

    yield make  # type: ignore[misc]
    for server in servers:
        server.close()


def test_unreachable_cluster_is_one_clear_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(env={"ES_RAG_URL": f"http://127.0.0.1:{port}"})
    with pytest.raises(ConnectError, match=r"cannot reach Elasticsearch at .*connection refused"):
        connect(settings)


def test_a_server_that_is_not_elasticsearch_is_named(fake) -> None:
    server = fake(_es_routes("8.19.0"), product=False)
    with pytest.raises(ConnectError, match="it is not Elasticsearch"):
        connect(load_settings(env={"ES_RAG_URL": server.url}))


def test_bad_credentials_say_which_and_where(fake) -> None:
    server = fake({"/": (401, {"error": {"type": "security_exception", "reason": "no"},
                               "status": 401})})
    env = {"ES_RAG_URL": server.url, "ES_RAG_USER": "alice", "ES_RAG_PASSWORD": "wrong"}
    with pytest.raises(ConnectError, match="refused user 'alice' \\(401\\)"):
        connect(load_settings(env=env))


def test_8x_server_gets_8x_compatibility_headers_and_basic_means_client_rrf(fake) -> None:
    server = fake(_es_routes("8.19.2", "basic"))
    _, caps = connect(load_settings(env={"ES_RAG_URL": server.url}))
    first, *later = [accept for _, accept in server.seen]
    assert "compatible-with" not in first
    assert later and all("compatible-with=8" in accept for accept in later)
    assert (caps.major, caps.retriever, caps.rrf_licensed) == (8, True, False)
    assert caps.hybrid_path == "client_rrf"
    assert caps.engine == "elasticsearch"


def test_9x_trial_uses_the_rrf_retriever(fake) -> None:
    server = fake(_es_routes("9.1.4", "trial"))
    _, caps = connect(load_settings(env={"ES_RAG_URL": server.url}))
    assert all("compatible-with=9" in accept for _, accept in server.seen[1:])
    assert (caps.rank_rrf, caps.rrf_licensed, caps.security_enabled) == (False, True, True)
    assert caps.hybrid_path == "retriever"


def test_older_8x_with_enterprise_uses_rank_rrf(fake) -> None:
    server = fake(_es_routes("8.12.0", "enterprise"))
    _, caps = connect(load_settings(env={"ES_RAG_URL": server.url}))
    assert caps.hybrid_path == "rank_rrf"


def test_refused_credentials_carry_status_401(fake) -> None:
    server = fake({"/": (401, {"error": {"type": "security_exception", "reason": "no"},
                               "status": 401})})
    env = {"ES_RAG_URL": server.url, "ES_RAG_USER": "alice", "ES_RAG_PASSWORD": "wrong"}
    with pytest.raises(ConnectError) as refused:
        connect(load_settings(env=env))
    assert refused.value.status == 401
