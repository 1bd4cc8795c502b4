"""Searching as an end user sends the run-as header on every request of the search."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.connect import Capabilities
from es_rag.retrieve import SearchParams, search

HIT = {"_index": "chunks", "_id": "a#0", "_score": 1.0,
       "_source": {"chunk_id": "a#0", "doc_id": "a", "text": "alpha"}}


class RecordingCluster:
    """Answers _search and _msearch with one hit and records each request's run-as header."""

    def __init__(self) -> None:
        self.run_as: list[tuple[str, str | None]] = []
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.do_POST()

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.split("?")[0]
                run_as = self.headers.get("es-security-runas-user")
                cluster.run_as.append((path, run_as))
                result = {"took": 1, "hits": {"total": {"value": 1}, "hits": [HIT]}}
                body = {"took": 1, "responses": [result, result]} if "_msearch" in path else result
                if path == "/_security/_authenticate":
                    body = {"username": run_as}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def cluster() -> Iterator[RecordingCluster]:
    fake = RecordingCluster()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


class ConstantEmbedder:
    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0]


CAPS = Capabilities(url="", engine="elasticsearch", version="8.15.0", major=8, minor=15,
                    distribution="default", license_type="trial", license_status="active",
                    security_enabled=True, retriever=True, rank_rrf=True, rrf_licensed=True,
                    ml_inference=False, dls=True)


def test_every_request_of_a_search_runs_as_the_user(cluster) -> None:
    client = Elasticsearch(cluster.url)
    params = SearchParams(mode="hybrid", explain=True)
    result = search(client, CAPS, "chunks", "alpha", params, ConstantEmbedder(), as_user="alice")
    assert result.hits[0].chunk_id == "a#0"
    assert cluster.run_as == [("/_security/_authenticate", "alice"),  # may it run as alice?
                              ("/chunks/_search", "alice"), ("/_msearch", "alice")]
    search(client, CAPS, "chunks", "alpha", SearchParams(mode="bm25"), None)
    assert cluster.run_as[-1] == ("/chunks/_search", None)
