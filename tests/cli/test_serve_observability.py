"""`es-rag serve` with `OTEL_TRACES_EXPORTER=console`: three questions are three traces on
stderr, and `GET /metrics` counts them."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

from es_rag_processes import ES_RAG, DocsEngine, free_port, process_env, run

QUESTIONS = ("How does es-rag combine BM25 and kNN results in hybrid search?",
             "How do I add a user?",
             "What is the boiling point of liquid mercury?")


def _request(url: str, authorization: str, body: dict[str, Any] | None = None,
             timeout: float = 120) -> tuple[int, str]:
    """Status and body of a request, retried while the server is not listening yet."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers),
                                        timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_serve_exports_one_trace_per_question_and_counts_them(docs_engine: DocsEngine) -> None:
    login = "Basic " + base64.b64encode(f"elastic:{docs_engine.password}".encode()).decode()
    port = free_port()
    env = {**docs_engine.env, "OTEL_TRACES_EXPORTER": "console",
           "OTEL_SERVICE_NAME": "es-rag-under-test"}
    process = subprocess.Popen([*ES_RAG, "serve", "--port", str(port)], env=process_env(env),
                               cwd=docs_engine.root, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for question in QUESTIONS:
            status, body = _request(f"{url}/api/ask", login, {"question": question})
            assert status == 200, body
        status, metrics = _request(f"{url}/metrics", login)
        anonymous, _ = _request(f"{url}/metrics", "")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert status == 200 and anonymous == 401

    spans = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        by_trace[span["context"]["trace_id"]].append(span)
    requests = [t for t in by_trace.values() if any(s["name"] == "POST /api/ask" for s in t)]
    assert len(requests) == 3, [s["name"] for s in spans]
    # the rest: the Elasticsearch client's own spans of `serve` checking the cluster at start
    others = [s["name"] for t in by_trace.values() if t not in requests for s in t]
    assert not [name for name in others if name.startswith(("es_rag", "POST"))], others
    for trace in requests:
        names = {s["name"] for s in trace}
        assert {"POST /api/ask", "es_rag.ask", "es_rag.search", "es_rag.embed_query"} <= names
        assert names & {"es_rag.retrieve.fused", "es_rag.retrieve.msearch"}
        assert [s["name"] for s in trace if s["parent_id"] is None] == ["POST /api/ask"]
        assert trace[0]["resource"]["attributes"]["service.name"] == "es-rag-under-test"
        assert "elastic" not in json.dumps([s["attributes"] for s in trace
                                            if s["name"].startswith("es_rag")])
        # the Elasticsearch client traces its own requests, inside es-rag's spans
        assert "search" in names or "msearch" in names
    answered = [t for t in requests if any(s["name"] == "es_rag.generate" for s in t)]
    assert answered and all(any(s["name"] == "es_rag.context" for s in t) for t in answered)

    assert 'es_rag_request_duration_seconds_count{mode="hybrid",route="ask",status="2xx"} 3.0' \
        in metrics
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith("es_rag_answers_total{"))
    assert counted == 3


def test_an_unknown_trace_exporter_stops_the_command_and_names_the_accepted_ones(
        tmp_path) -> None:
    result = run("status", env={"ES_RAG_DATA": str(tmp_path), "OTEL_TRACES_EXPORTER": "zipkin"})
    assert result.returncode == 2
    assert "OTEL_TRACES_EXPORTER: unknown exporter zipkin (accepted: otlp, console, none)" \
        in result.stderr
    assert "Traceback" not in result.stderr
