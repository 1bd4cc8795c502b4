"""An operator traces every API request and scrapes the API's Prometheus metrics.

Traces go to an in-memory exporter: each request is one trace, rooted in the HTTP server span,
with a span for every stage of the answer and GenAI/es-rag attributes on them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from retrieve.corpus import shared_embedder
from span_memory import spans_in_memory

from api.conftest import INDEX, sse_events
from es_rag.api import create_api_app
from es_rag.config import Settings
from es_rag.observability import tracing

EIFFEL = "When was the Eiffel Tower completed?"
QUOTA = "How do I free space when the disk quota is exhausted?"
OFF_TOPIC = "Who won the chess world championship of 1972?"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for this test only."""
    with spans_in_memory() as memory:
        yield memory


@pytest.fixture
def observed_app(engine: Any, cluster: Any) -> Flask:
    """An API app of its own, so that its metrics count only this test's requests."""
    return create_api_app(Settings(url=engine.url, index=INDEX), embedder=shared_embedder())


def traces(spans: tuple[ReadableSpan, ...]) -> list[list[ReadableSpan]]:
    """Spans grouped by trace, in the order the traces started."""
    by_trace: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        by_trace[span.context.trace_id].append(span)
    return list(by_trace.values())


def names(trace: list[ReadableSpan]) -> set[str]:
    return {span.name for span in trace}


def one(trace: list[ReadableSpan], name: str) -> Any:
    [span] = [s for s in trace if s.name == name]
    return span


def metric(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(sample.value for family in text_string_to_metric_families(exposition)
               for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


def ask(api: FlaskClient, question: str, **options: Any) -> Any:
    # buffered: the response is read and closed, as a server closes it after sending
    response = api.post("/api/ask", json={"question": question, "size": 3, **options},
                        buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_three_questions_are_three_traces_with_every_stage_and_counted_in_metrics(
        observed_app: Flask, exporter: InMemorySpanExporter) -> None:
    api = observed_app.test_client()
    answered = ask(api, EIFFEL, mode="hybrid+rerank").json
    streamed = sse_events(ask(api, QUOTA, stream=True).get_data(as_text=True))
    refused = ask(api, OFF_TOPIC, mode="bm25").json
    assert "1889" in answered["answer"] and streamed[-1][0] == "done"

    first, second, third = traces(exporter.get_finished_spans())
    for trace in (first, second, third):
        [root] = [s for s in trace if s.parent is None]
        assert root.name == "POST /api/ask" and root.kind.name == "SERVER"
        assert root.attributes["http.response.status_code"] == 200
        assert {"es_rag.ask", "es_rag.search"} <= names(trace)

    # hybrid + rerank, answered: every stage from the query embedding to the generation
    assert {"es_rag.embed_query", "es_rag.retrieve.fused", "es_rag.rerank",
            "es_rag.relevance_check", "es_rag.context", "es_rag.generate"} <= names(first)
    search = one(first, "es_rag.search").attributes
    assert search["es_rag.search.mode"] == "hybrid+rerank"
    assert search["es_rag.index"] == INDEX and search["gen_ai.operation.name"] == "retrieval"
    assert search["es_rag.hybrid_path"] in ("retriever", "rank_rrf", "client_rrf")
    assert search["es_rag.search.rank_constant"] >= 1 and search["es_rag.hits"] >= 1
    assert one(first, "es_rag.embed_query").attributes["gen_ai.operation.name"] == "embeddings"
    fused = one(first, "es_rag.retrieve.fused").attributes
    assert fused["es_rag.index.versions"] == (INDEX,) and fused["es_rag.hits"] >= 1
    assert one(first, "es_rag.context").attributes["es_rag.context.sources"] >= 1
    generation = one(first, "es_rag.generate").attributes
    assert generation["gen_ai.provider.name"] == "extractive"
    assert generation["es_rag.answer.citations"] >= 1
    assert generation["es_rag.answer.refusal"] is False
    parent = {s.context.span_id: s.name for s in first}
    assert parent[one(first, "es_rag.generate").parent.span_id] == "es_rag.ask"
    assert parent[one(first, "es_rag.rerank").parent.span_id] == "es_rag.search"

    # streamed: the generation span covers the stream and still belongs to this trace
    assert {"es_rag.context", "es_rag.generate"} <= names(second)
    assert one(second, "es_rag.ask").attributes["es_rag.answer.citations"] >= 1

    # nothing relevant: BM25 alone, and no generation
    assert "es_rag.retrieve.bm25" in names(third) and "es_rag.generate" not in names(third)
    assert one(third, "es_rag.ask").attributes["es_rag.answer.refusal"] is True
    assert refused["citations"] == []

    scraped = api.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.content_type.startswith("text/plain; version=")
    text = scraped.get_data(as_text=True)
    assert metric(text, "es_rag_request_duration_seconds_count", route="ask") == 3
    assert metric(text, "es_rag_request_duration_seconds_count", route="ask",
                  mode="hybrid+rerank") == 1
    assert metric(text, "es_rag_answers_total", outcome="answered") == 2
    assert metric(text, "es_rag_answers_total", outcome="dont_know", mode="bm25") == 1
    assert metric(text, "es_rag_answer_citation_coverage_count") == 2
    assert metric(text, "es_rag_answer_citation_coverage_sum") > 1.0


def test_errors_and_empty_retrievals_are_counted_by_kind(observed_app: Flask) -> None:
    api = observed_app.test_client()
    assert api.post("/api/search", data="", content_type="application/json").status_code == 400
    assert api.post("/api/search", json={"query": "x", "mode": "nope"}).status_code == 400
    nothing = api.post("/api/search", json={"query": "zzzyzzx", "mode": "bm25"})
    assert nothing.status_code == 200 and nothing.json["hits"] == []
    text = api.get("/metrics").get_data(as_text=True)
    assert metric(text, "es_rag_errors_total", route="search", kind="parse_error") == 1
    assert metric(text, "es_rag_errors_total", route="search", kind="unknown_mode") == 1
    assert metric(text, "es_rag_empty_retrievals_total", route="search", mode="bm25") == 1
    assert metric(text, "es_rag_request_duration_seconds_count", route="search") == 3


def test_a_callers_trace_context_is_continued_and_their_name_never_recorded(
        observed_app: Flask, exporter: InMemorySpanExporter) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = observed_app.test_client().post(
        "/api/search", json={"query": "Eiffel Tower", "mode": "bm25"},
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
                 "Authorization": "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="})  # alice:alice-password
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    assert {format(s.context.trace_id, "032x") for s in spans} == {trace_id}
    scope = one(list(spans), "POST /api/search").attributes["es_rag.user_scope"]
    assert len(scope) == 16 and all(c in "0123456789abcdef" for c in scope)
    recorded = " ".join(str(v) for s in spans for v in s.attributes.values())
    assert "alice" not in recorded and "YWxpY2U6" not in recorded


def test_with_tracing_off_no_span_is_made(observed_app: Flask) -> None:
    assert not tracing.enabled()
    with tracing.span("es_rag.search", es_rag__hits=1) as current:
        assert current is tracing.OFF
    response = observed_app.test_client().post("/api/search",
                                               json={"query": "Eiffel", "mode": "bm25"})
    assert response.status_code == 200
