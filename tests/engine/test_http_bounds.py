"""The engine's HTTP server holds its resources in bounds, over real sockets: bodies are
authenticated before they are decompressed and never grow past `http.max_content_length`,
malformed framing is a 4xx with Elasticsearch's error body, idle connections are closed and
hold no thread."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.engine.limits import Limits, with_settings
from es_rag.engine.server import EngineServer

PASSWORD = "bounds-test-password"
AUTH = "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    limits = Limits(max_content_length=LIMIT, http_idle_timeout=2, http_threads=4)
    server = EngineServer(tmp_path_factory.mktemp("bounded"), port=0, limits=limits,
                          elastic_password=PASSWORD).start()
    yield server
    server.stop()


def exchange(engine: EngineServer, request: bytes, timeout: float = 10.0
             ) -> tuple[int, dict[str, str], Any]:
    """Send raw bytes on a new connection; the status, headers and JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", engine.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk
            body += chunk
    return int(lines[0].split()[1]), headers, json.loads(body) if body else None


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            auth: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Content-Type: application/json"]
    if auth:
        lines.append(f"Authorization: {AUTH}")
    all_headers = {"Content-Length": str(len(body)), **(headers or {})}
    lines += [f"{k}: {v}" for k, v in all_headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def assert_es_error(body: Any, status: int, error_type: str) -> None:
    assert body["status"] == status
    assert body["error"]["type"] == error_type
    assert body["error"]["root_cause"][0]["type"] == error_type
    assert "Traceback" not in json.dumps(body) and "stack_trace" not in body["error"]


def test_a_gzip_bomb_is_refused_with_413_once_past_the_limit(engine: EngineServer) -> None:
    bomb = gzip.compress(b" " * (20 * LIMIT))  # 20 MB of spaces in about 20 KB
    assert len(bomb) < LIMIT
    status, headers, body = exchange(engine, request(
        "POST", "/_search", bomb, {"Content-Encoding": "gzip"}))
    assert status == 413
    assert headers["x-elastic-product"] == "Elasticsearch"
    assert_es_error(body, 413, "content_too_long_exception")
    assert f"[{LIMIT}]" in body["error"]["reason"]


def test_a_gzip_body_within_the_limit_still_works(engine: EngineServer) -> None:
    query = gzip.compress(json.dumps({"query": {"match_all": {}}}).encode())
    status, _, body = exchange(engine, request("POST", "/_search", query,
                                               {"Content-Encoding": "gzip"}))
    assert status == 200 and "hits" in body


def test_gzip_is_decompressed_only_after_authentication(engine: EngineServer) -> None:
    status, headers, body = exchange(engine, request(
        "POST", "/_search?error_trace=true", b"not gzip at all", {"Content-Encoding": "gzip"},
        auth=False))
    assert status == 401
    assert "WWW-Authenticate".lower() in headers
    assert_es_error(body, 401, "security_exception")


def test_corrupt_gzip_is_a_400(engine: EngineServer) -> None:
    truncated = gzip.compress(json.dumps({"query": {"match_all": {}}}).encode())[:-12]
    for payload in (b"not gzip at all", truncated):
        status, _, body = exchange(engine, request(
            "POST", "/_search?error_trace=true", payload, {"Content-Encoding": "gzip"}))
        assert status == 400
        assert_es_error(body, 400, "illegal_argument_exception")
        assert "gzip" in body["error"]["reason"]


@pytest.mark.parametrize("length", ["abc", "-1", "12, 12", "0x10"])
def test_a_malformed_content_length_is_a_400_even_unauthenticated(
        engine: EngineServer, length: str) -> None:
    status, headers, body = exchange(engine, request(
        "POST", "/_search?error_trace=true", b"{}", {"Content-Length": length}, auth=False),
        timeout=5)
    assert status == 400
    assert headers["x-elastic-product"] == "Elasticsearch"
    assert_es_error(body, 400, "illegal_argument_exception")
    assert "Content-Length" in body["error"]["reason"]


def test_bad_chunked_encoding_is_a_400(engine: EngineServer) -> None:
    raw = request("POST", "/_search?error_trace=true", b"zz\r\n{}\r\n0\r\n\r\n",
                  {"Content-Length": None, "Transfer-Encoding": "chunked"}, auth=False)
    status, _, body = exchange(engine, raw, timeout=5)
    assert status == 400
    assert_es_error(body, 400, "illegal_argument_exception")


def test_chunked_bodies_are_read_and_bounded(engine: EngineServer) -> None:
    payload = json.dumps({"query": {"match_all": {}}}).encode()
    chunked = f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n"
    raw = request("POST", "/_search", chunked,
                  {"Content-Length": None, "Transfer-Encoding": "chunked"})
    assert exchange(engine, raw)[0] == 200
    big = b"x" * (LIMIT + 10)
    chunked = f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n"
    raw = request("POST", "/_search", chunked,
                  {"Content-Length": None, "Transfer-Encoding": "chunked"})
    status, _, body = exchange(engine, raw)
    assert status == 413
    assert_es_error(body, 413, "content_too_long_exception")


def test_a_stalled_request_is_closed_after_the_idle_timeout(engine: EngineServer) -> None:
    """`Content-Length: 100` and then silence: the connection is dropped, no thread waits."""
    with socket.create_connection(("127.0.0.1", engine.port), timeout=15) as sock:
        sock.sendall(request("POST", "/_search", b"", {"Content-Length": "100"}))
        started = time.monotonic()
        assert sock.recv(1024) == b""
        assert time.monotonic() - started < 10


def test_idle_connections_hold_no_threads(engine: EngineServer) -> None:
    before = threading.active_count()
    sockets = [socket.create_connection(("127.0.0.1", engine.port), timeout=10)
               for _ in range(150)]
    try:
        time.sleep(0.3)
        assert threading.active_count() - before < 10
        status, _, _ = exchange(engine, request("GET", "/"))
        assert status == 200
    finally:
        for sock in sockets:
            sock.close()


def test_keep_alive_and_head_still_work(engine: EngineServer) -> None:
    with socket.create_connection(("127.0.0.1", engine.port), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(request("HEAD", "/"))
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(4096)
            assert data.startswith(b"HTTP/1.1 200")
            assert b"X-Elastic-Product: Elasticsearch" in data
            assert data.endswith(b"\r\n\r\n")


def test_limits_come_from_elasticsearch_style_settings() -> None:
    limits = with_settings(Limits(), {"http.max_content_length": "10mb",
                                      "indices.query.bool.max_clause_count": "1024",
                                      "engine.http.idle_timeout": "1m"})
    assert limits.max_content_length == 10 * 1024 * 1024
    assert limits.max_clause_count == 1024 and limits.http_idle_timeout == 60
    with pytest.raises(ValueError, match="unknown setting \\[http.max_body\\]"):
        with_settings(Limits(), {"http.max_body": "1"})
    with pytest.raises(ValueError, match="search.max_buckets"):
        with_settings(Limits(), {"search.max_buckets": "lots"})


def test_the_engine_process_takes_elasticsearch_style_settings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "es_rag.engine", "--data", str(tmp_path), "--port", "0",
         "-E", "search.max_bucket=10"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown setting [search.max_bucket]" in result.stderr


def test_the_client_reconnects_after_the_idle_timeout_closed_its_connection(
        engine: EngineServer) -> None:
    client = Elasticsearch(engine.url, basic_auth=("elastic", PASSWORD), max_retries=0)
    try:
        assert client.info()["tagline"] == "You Know, for Search"
        time.sleep(3.5)  # the idle timeout (2 s) closes the pooled keep-alive connection
        assert client.cluster.health()["status"] in ("green", "yellow")
    finally:
        client.close()
