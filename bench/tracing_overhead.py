"""What tracing costs a search: latency with tracing off and on, and the cost of the hooks off.

Starts an embedded engine in-process (temporary data dir, security off), indexes the
paragraphs of docs/*.md with their embeddings, then times the same queries in turns with
tracing off (no tracer provider: the hooks hand back a do-nothing span) and on (the SDK's
TracerProvider, a BatchSpanProcessor as with OTLP, an exporter that drops the spans).

Usage: python bench/tracing_overhead.py [--queries 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError, helpers
from measures import Runner, time_interleaved
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from es_rag.connect import detect_capabilities
from es_rag.embedding.local import Embedder
from es_rag.engine.server import EngineServer
from es_rag.observability import tracing
from es_rag.retrieve import SearchParams, search

REPO_ROOT = Path(__file__).resolve().parents[1]
INDEX = "bench-traced"
QUESTIONS = ("how are search assets applied", "hybrid search with reciprocal rank fusion",
             "document level security for a user", "which embedding model is used",
             "how do I run the embedded engine", "answer with citations from sources",
             "evaluate retrieval with judgments", "chunk size and overlap of ingestion")


class Dropping(SpanExporter):
    """Counts the spans and drops them: the cost measured is es-rag's and the SDK's."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def _paragraphs() -> list[tuple[str, str]]:
    found = []
    for page in sorted((REPO_ROOT / "docs").glob("*.md")):
        for i, block in enumerate(page.read_text(encoding="utf-8").split("\n\n")):
            if len(block.split()) >= 8:
                found.append((f"{page.stem}#{i}", " ".join(block.split())))
    return found


def _index(client: Elasticsearch, embedder: Embedder) -> int:
    mapping = json.loads((REPO_ROOT / "mappings" / "chunks.json").read_text())
    client.indices.create(index=INDEX, mappings=mapping["mappings"])
    paragraphs = _paragraphs()
    vectors = embedder.embed_documents([text for _, text in paragraphs])
    helpers.bulk(client, ({"_index": INDEX, "_id": cid, "_source": {
        "chunk_id": cid, "doc_id": cid.split("#")[0], "text": text, "title": cid,
        "source": f"docs/{cid.split('#')[0]}.md", "embedding": vector}}
        for (cid, text), vector in zip(paragraphs, vectors, strict=True)), refresh=True)
    return len(paragraphs)


def _hook_cost_ns(calls: int = 200_000) -> float:
    """Nanoseconds of one `with tracing.span(...)` while tracing is off."""
    tracing.use_tracer_provider(None)
    started = time.perf_counter_ns()
    for _ in range(calls):
        with tracing.span("es_rag.retrieve.bm25", es_rag__leg="bm25") as current:
            current.set(es_rag__hits=1)
    return (time.perf_counter_ns() - started) / calls


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    embedder = Embedder()
    exporter = Dropping()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    figures: dict[str, Any] = {"queries": args.queries}
    with tempfile.TemporaryDirectory() as data:
        server = EngineServer(Path(data), port=0, security=False).start()
        try:
            client = Elasticsearch(server.url, request_timeout=60)
            figures["chunks"] = _index(client, embedder)
            caps = detect_capabilities(client, server.url, client.info().body, embedded=True)
            for mode in ("bm25", "hybrid"):
                params = SearchParams(mode=mode, size=8)

                def runner(on: bool, params: SearchParams = params) -> Runner:
                    def run(i: int) -> list[str]:
                        tracing.use_tracer_provider(provider if on else None)
                        result = search(client, caps, INDEX, QUESTIONS[i % len(QUESTIONS)],
                                        params, embedder)
                        return [h.chunk_id for h in result.hits]
                    return Runner(run, (ApiError, TransportError))

                before = exporter.spans
                timed = time_interleaved({"off": runner(False), "on": runner(True)},
                                         args.queries, warmup=20)
                provider.force_flush()
                spans = (exporter.spans - before) / (args.queries + 20)
                for state, latency in timed.items():
                    for p in (50, 95):
                        figures[f"{mode}_{state}_p{p}_ms"] = round(latency.percentile(p) or -1, 3)
                figures[f"{mode}_spans_per_search"] = round(spans, 1)
        finally:
            tracing.use_tracer_provider(None)
            provider.shutdown()
            server.stop()
    figures["hook_off_ns"] = round(_hook_cost_ns(), 1)
    for key, value in figures.items():
        print(f"{key:28} {value}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
