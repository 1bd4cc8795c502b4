"""Bad input and failures get a JSON error with the right status and a reason naming the problem."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from retrieve.corpus import shared_embedder

from api.conftest import sse_events
from es_rag.api import create_api_app
from es_rag.config import Settings
from es_rag.generate import Context, ExtractiveGenerator, ProviderUnavailableError

BAD_REQUESTS = [
    ("/api/search", b"{not json", "parse_error", "not valid JSON"),
    ("/api/search", b"", "parse_error", "body is empty"),
    ("/api/search", b"[1, 2]", "parse_error", "must be a JSON object"),
    ("/api/search", {"mode": "bm25"}, "validation_error", "missing field 'query'"),
    ("/api/search", {"query": "x", "colour": "red"}, "validation_error",
     "unknown field 'colour' (accepted: query, mode"),
    ("/api/search", {"query": "x", "mode": "fuzzy"}, "unknown_mode",
     "unknown search mode 'fuzzy' (accepted: bm25, knn, hybrid, hybrid+rerank)"),
    ("/api/search", {"query": "x", "filters": ["page >> 3"]}, "invalid_filter",
     "missing value in filter"),
    ("/api/search", {"query": "x", "filters": ["just words"]}, "invalid_filter",
     "cannot parse filter 'just words'"),
    ("/api/search", {"query": 5}, "validation_error", "query: Input should be a valid string"),
    ("/api/search", {"query": "x", "size": 0}, "validation_error", "size:"),
    ("/api/search", {"query": "x", "size": 50, "rank_window_size": 20}, "validation_error",
     "rank_window_size (20) must be at least size (50)"),
    ("/api/search", {"template": "hybrid", "query": "x"}, "validation_error",
     "either 'template'"),
    ("/api/search", {"params": {"query": "x"}}, "validation_error", "missing field 'template'"),
    ("/api/search", {"template": "../etc/passwd"}, "validation_error", "template:"),
    ("/api/search", {"template": "knn", "params": {"size": 3}}, "validation_error",
     "needs params.query_vector, or params.query"),
    ("/api/search", {"template": "bm25", "params": {"query": "x", "filters": []},
                     "filters": ["page>1"]}, "validation_error", "not both"),
    ("/api/ask", {}, "validation_error", "missing field 'question'"),
    ("/api/ask", {"question": ""}, "validation_error", "question: String should have at least"),
    ("/api/search", {"query": "   "}, "validation_error", "query: String should have at least"),
    ("/api/ask", {"question": "x", "mode": "semantic"}, "unknown_mode", "'semantic'"),
    ("/api/ask", {"question": "x", "filters": "page>1"}, "invalid_filter",
     "filters: Input should be a valid list"),
    ("/api/ask", {"question": "x", "history": [{"role": "bot", "content": "hi"}]},
     "validation_error", "history.0.role: Input should be 'user' or 'assistant'"),
    ("/api/ask", {"question": "x", "history": [{"role": "user"}]}, "validation_error",
     "missing field 'history.0.content'"),
]


@pytest.mark.parametrize(("path", "body", "error_type", "reason"), BAD_REQUESTS)
def test_bad_input_is_a_400_naming_the_problem(api, path, body, error_type, reason) -> None:
    if isinstance(body, bytes):
        response = api.post(path, data=body, content_type="application/json")
    else:
        response = api.post(path, json=body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["type"] == error_type
    assert reason in response.json["error"]["reason"]


def test_unknown_routes_and_methods_answer_json(api) -> None:
    response = api.get("/api/nothing")
    assert response.status_code == 404 and "no route /api/nothing" in (
        response.json["error"]["reason"])
    response = api.get("/api/search")
    assert response.status_code == 405
    assert response.json["error"]["reason"] == "GET is not allowed on /api/search"


def test_an_oversized_body_is_a_413(api) -> None:
    response = api.post("/api/search", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                        content_type="application/json")
    assert response.status_code == 413 and response.json["error"]["type"]


def test_an_index_that_does_not_exist_is_a_404(engine) -> None:
    app = create_api_app(Settings(url=engine.url, index="no-such-index"))
    response = app.test_client().post("/api/search", json={"mode": "bm25", "query": "x"})
    assert response.status_code == 404
    assert "no such index [no-such-index]" in response.json["error"]["reason"]


@pytest.fixture
def dead_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


def test_an_unreachable_cluster_is_a_502_and_health_says_503(dead_url) -> None:
    api = create_api_app(Settings(url=dead_url, request_timeout=2)).test_client()
    response = api.post("/api/search", json={"mode": "bm25", "query": "x"})
    assert response.status_code == 502
    assert response.json["error"]["type"] == "cluster_unreachable"
    assert f"cannot reach the cluster at {dead_url}" in response.json["error"]["reason"]
    response = api.get("/api/health")
    assert response.status_code == 503
    assert response.json["error"]["type"] == "cluster_unreachable"


def test_health_reports_the_cluster_and_the_provider(api) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "cluster": {"reachable": True, "status": 200},
                             "index": "api-chunks", "provider": "extractive"}


class FailingGenerator(ExtractiveGenerator):
    """Streams `tokens` pieces of the extractive answer, then the LLM endpoint goes away."""

    def __init__(self, tokens: int) -> None:
        super().__init__(shared_embedder())
        self.tokens = tokens

    def stream(self, question: str, context: Context) -> Iterator[str]:
        for n, piece in enumerate(super().stream(question, context)):
            if n == self.tokens:
                break
            yield piece
        raise ProviderUnavailableError("cannot reach LLM endpoint http://127.0.0.1:9/v1")

    def generate(self, question: str, context: Context):  # type: ignore[override]
        raise ProviderUnavailableError("cannot reach LLM endpoint http://127.0.0.1:9/v1")


QUESTION = {"question": "When was the Eiffel Tower completed?"}


@pytest.mark.parametrize("stream", [False, True])
def test_an_llm_endpoint_that_is_down_is_a_503(engine, cluster, stream) -> None:
    app = create_api_app(Settings(url=engine.url, index="api-chunks"),
                         embedder=shared_embedder(), generator=FailingGenerator(tokens=0))
    response = app.test_client().post("/api/ask", json={**QUESTION, "stream": stream})
    assert response.status_code == 503
    assert response.json["error"] == {"type": "generation_failed", "reason":
                                      "cannot reach LLM endpoint http://127.0.0.1:9/v1"}


def test_a_failure_mid_stream_ends_the_stream_with_an_error_event(engine, cluster) -> None:
    app = create_api_app(Settings(url=engine.url, index="api-chunks"),
                         embedder=shared_embedder(), generator=FailingGenerator(tokens=1))
    response = app.test_client().post("/api/ask", json={**QUESTION, "stream": True})
    assert response.status_code == 200
    events = sse_events(response.get_data(as_text=True))
    assert [name for name, _ in events] == ["token", "error"]
    assert events[-1][1]["error"]["type"] == "generation_failed"
