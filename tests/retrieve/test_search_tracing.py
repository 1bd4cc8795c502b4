"""A search as one trace: the query embedding, the retrieval legs, es-rag's own fusion."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from span_memory import spans_in_memory

from es_rag.connect import detect_capabilities
from es_rag.retrieve import SearchParams, search
from retrieve.corpus import index_corpus, shared_embedder

INDEX = "traced-chunks"
QUERY = "how does rank fusion merge the BM25 and vector rankings"


@pytest.fixture(scope="module")
def client(engine: Any) -> Iterator[Elasticsearch]:
    es = Elasticsearch(engine.url, request_timeout=30)
    index_corpus(es, INDEX)
    yield es
    es.options(ignore_status=404).indices.delete(index=INDEX)
    es.close()


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for this test only."""
    with spans_in_memory() as memory:
        yield memory


def test_client_side_rrf_traces_both_legs_and_the_fusion(client, exporter) -> None:
    caps = detect_capabilities(client, "engine", client.info().body, embedded=True)
    caps = replace(caps, retriever=False, rank_rrf=False)  # as without an RRF license
    params = SearchParams(mode="hybrid", size=4, rank_constant=20)
    result = search(client, caps, INDEX, QUERY, params, shared_embedder())
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"es_rag.search", "es_rag.embed_query", "es_rag.retrieve.msearch",
                          "es_rag.fusion"}
    root = spans["es_rag.search"]
    assert root.parent is None
    assert all(s.parent.span_id == root.context.span_id for n, s in spans.items() if n != root.name)
    assert root.attributes["es_rag.hybrid_path"] == "client_rrf"
    assert root.attributes["es_rag.search.rank_constant"] == 20
    assert root.attributes["es_rag.hits"] == len(result.hits) == 4
    legs = spans["es_rag.retrieve.msearch"].attributes
    assert legs["es_rag.bm25.hits"] >= 1 and legs["es_rag.knn.hits"] >= 1
    assert spans["es_rag.embed_query"].attributes["gen_ai.request.model"] == "all-MiniLM-L6-v2"


def test_tracing_changes_no_result(client) -> None:
    caps = detect_capabilities(client, "engine", client.info().body, embedded=True)
    params = SearchParams(mode="knn", size=5)
    untraced = search(client, caps, INDEX, QUERY, params, shared_embedder())
    with spans_in_memory() as memory:
        traced = search(client, caps, INDEX, QUERY, params, shared_embedder())
    assert [h.chunk_id for h in traced.hits] == [h.chunk_id for h in untraced.hits]
    assert {s.name for s in memory.get_finished_spans()} == {
        "es_rag.search", "es_rag.embed_query", "es_rag.retrieve.knn"}
