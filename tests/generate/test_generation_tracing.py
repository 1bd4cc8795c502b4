"""An answer from a chat model is traced with the GenAI conventions: model, tokens, finish."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from retrieve.corpus import index_corpus, shared_embedder
from span_memory import spans_in_memory

from es_rag.connect import detect_capabilities
from es_rag.generate import OpenAIGenerator, ask, ask_stream
from generate.test_openai_provider import FakeOpenAI

INDEX = "traced-answers"
QUESTION = "When was the Eiffel Tower completed?"


@pytest.fixture(scope="module")
def setup(engine: Any) -> Iterator[tuple[Elasticsearch, Any]]:
    es = Elasticsearch(engine.url, request_timeout=30)
    index_corpus(es, INDEX)
    yield es, detect_capabilities(es, "engine", es.info().body, embedded=True)
    es.options(ignore_status=404).indices.delete(index=INDEX)
    es.close()


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for this test only."""
    with spans_in_memory() as memory:
        yield memory


@pytest.fixture
def generator() -> Iterator[OpenAIGenerator]:
    server = FakeOpenAI()
    yield OpenAIGenerator(model="smollm2", base_url=server.base_url, api_key="sk-test",
                          timeout=5, max_retries=0, temperature=0.0, max_tokens=200)
    server.close()


def test_the_chat_span_carries_model_usage_and_finish_reason(setup, exporter, generator) -> None:
    es, caps = setup
    ask(es, caps, INDEX, QUESTION, embedder=shared_embedder(), generator=generator)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    chat = spans["chat smollm2"].attributes
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.provider.name"] == "openai"
    assert chat["gen_ai.request.model"] == chat["gen_ai.response.model"] == "smollm2"
    assert chat["gen_ai.request.max_tokens"] == 200 and chat["gen_ai.request.temperature"] == 0
    assert chat["gen_ai.usage.input_tokens"] == 1 and chat["gen_ai.usage.output_tokens"] == 1
    assert chat["gen_ai.response.finish_reasons"] == ("stop",)
    assert spans["chat smollm2"].parent.span_id == spans["es_rag.ask"].context.span_id


def test_a_streamed_answer_is_one_trace_ending_with_the_stream(setup, exporter,
                                                               generator) -> None:
    es, caps = setup
    parts = ask_stream(es, caps, INDEX, QUESTION, embedder=shared_embedder(),
                       generator=generator)
    next(parts)
    assert "es_rag.ask" not in {s.name for s in exporter.get_finished_spans()}
    list(parts)
    spans = exporter.get_finished_spans()
    assert len({s.context.trace_id for s in spans}) == 1
    assert {"es_rag.ask", "es_rag.search", "es_rag.context", "chat smollm2"} <= {
        s.name for s in spans}
