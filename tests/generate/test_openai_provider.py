"""The openai provider against a small OpenAI-compatible server started on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from es_rag.config import load_settings
from es_rag.generate import (
    ContextTooLongError,
    ModelNotFoundError,
    OpenAIGenerator,
    ProviderAuthError,
    ProviderUnavailableError,
    assemble_context,
    build_generator,
)

ANSWER = "The Eiffel Tower was completed in 1889 [2]. It was built for the World's Fair [9]."


class FakeOpenAI:
    """Serves /v1/chat/completions from a script of (status, body) replies; records requests."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization")})
                status, reply = fake.script.pop(0) if fake.script else (200, {})
                if status == 200 and body.get("stream"):
                    self._stream(reply, body["model"])
                    return
                if status == 200:
                    reply = _completion(reply.get("content", ANSWER), body["model"])
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "5")
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: dict[str, Any], model: str) -> None:
                """Chunks of the reply's words; `cut_off` ends without a finish_reason."""
                content = reply.get("content", ANSWER)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for word in content.split(" "):
                    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0,
                             "model": model, "choices": [{"index": 0, "delta": {
                                 "content": word + " "}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                if not reply.get("cut_off"):
                    chunk["choices"][0].update(delta={}, finish_reason="stop")
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _completion(content: str, model: str) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def _error(message: str, code: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture
def generator(server: FakeOpenAI) -> OpenAIGenerator:
    return OpenAIGenerator(model="smollm2", base_url=server.base_url, api_key="sk-test",
                           timeout=5, max_retries=2)


def test_answer_with_verified_citations(server, generator, hits) -> None:
    answer = generator.generate("When was the tower completed?", assemble_context(hits))
    assert answer.provider == "openai" and not answer.extractive
    assert answer.text == ("The Eiffel Tower was completed in 1889 [2]. It was built for the "
                           "World's Fair.")
    assert answer.removed_citations == ["[9]: no such source (sources are [1]..[3])"]
    assert [(c.n, c.chunk_id) for c in answer.citations] == [(2, "eiffel-0")]
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "smollm2" and request["body"]["temperature"] == 0.0
    system, user = request["body"]["messages"]
    assert system["role"] == "system" and "[n]" in system["content"]
    assert hits[1].text in user["content"]


def test_streaming_yields_deltas_then_finish_verifies(server, generator, hits) -> None:
    ctx = assemble_context(hits)
    deltas = list(generator.stream("When was the tower completed?", ctx))
    assert len(deltas) > 5
    assert server.requests[0]["body"]["stream"] is True
    answer = generator.finish("".join(deltas), ctx)
    assert [c.n for c in answer.citations] == [2] and "[9]" not in answer.text


def test_a_stream_cut_off_before_the_finish_reason_is_an_error(server, generator, hits) -> None:
    server.script = [(200, {"content": "The Eiffel", "cut_off": True})]
    with pytest.raises(ProviderUnavailableError, match="closed the answer stream before"):
        list(generator.stream("When was the tower completed?", assemble_context(hits)))


def test_wrong_key_is_an_auth_error(server, generator, hits) -> None:
    server.script = [(401, _error("Incorrect API key provided", "invalid_api_key"))]
    with pytest.raises(ProviderAuthError, match=r"refused the API key \(401\)"):
        generator.generate("q", assemble_context(hits))


def test_unknown_model_names_the_model(server, generator, hits) -> None:
    server.script = [(404, _error("The model `smollm2` does not exist", "model_not_found"))]
    with pytest.raises(ModelNotFoundError, match="does not serve model 'smollm2'"):
        generator.generate("q", assemble_context(hits))


def test_context_too_long_says_to_lower_the_budget(server, generator, hits) -> None:
    server.script = [(400, _error("This model's maximum context length is 2048 tokens",
                                  "context_length_exceeded"))]
    with pytest.raises(ContextTooLongError, match="lower the context token budget"):
        generator.generate("q", assemble_context(hits))


@pytest.mark.parametrize("status", [500, 429])
def test_transient_failures_are_retried_with_backoff(server, generator, hits, status) -> None:
    server.script = [(status, _error("busy", "server_error", "server_error"))] * 2
    answer = generator.generate("When was the tower completed?", assemble_context(hits))
    assert len(server.requests) == 3 and answer.citations


def test_persistent_failure_gives_up_after_the_retries(server, generator, hits) -> None:
    server.script = [(503, _error("down", "server_error", "server_error"))] * 5
    with pytest.raises(ProviderUnavailableError, match=r"failed \(503\) after retries"):
        generator.generate("q", assemble_context(hits))
    assert len(server.requests) == 3


def test_a_server_that_is_down_is_reported(hits) -> None:
    gen = OpenAIGenerator(model="m", base_url="http://127.0.0.1:9/v1", timeout=2, max_retries=0)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError, match="cannot reach"):
        gen.generate("q", assemble_context(hits))
    assert time.monotonic() - started < 5


def test_build_generator_follows_the_settings(server) -> None:
    settings = load_settings(env={}, llm_provider="openai", llm_model="smollm2",
                             llm_base_url=server.base_url)
    gen = build_generator(settings)
    assert isinstance(gen, OpenAIGenerator) and gen.model == "smollm2"
    assert build_generator(load_settings(env={})).name == "extractive"
