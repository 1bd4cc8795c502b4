"""Latency of `es-rag ask` per provider on the demo corpus: retrieval, first token, total.

Run `es-rag demo` first (it ingests docs/ and the README into the configured cluster, by
default the embedded engine in ./.es-rag), then:

    .venv/bin/python bench/generation_latency.py                  # extractive and local
    .venv/bin/python bench/generation_latency.py --providers local

Each question is asked once, streaming, after a different warm-up question that loads the models
(a repeated question would reuse llama.cpp's prompt cache). `retrieval` is es-rag's search
(hybrid: BM25 + kNN with the query embedding), `relevance` the similarity check that decides
whether to generate at all; `first token` and `total` are measured from the moment the question
is asked. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from elasticsearch import Elasticsearch

from es_rag.config import Settings, load_settings
from es_rag.connect import Capabilities, connect
from es_rag.embedding.local import Embedder
from es_rag.generate import Answer, AskParams, ask_stream, build_generator
from es_rag.retrieve import SearchParams

QUESTIONS = (
    "How does es-rag combine BM25 and kNN results in hybrid search?",
    "What does the extractive provider do when no language model is configured?",
    "How are the citations of an answer verified?",
    "Which embedding model does es-rag use by default?",
    "What happens to a document that fails during ingestion?",
)


WARM_UP = "What is es-rag?"
COLUMNS = ("retrieval", "relevance", "first token", "total")


def _row(cells: list[str]) -> str:
    return f"{cells[0]:<12}" + "".join(f"{c:>16}" for c in cells[1:])


def bench_provider(provider: str, client: Elasticsearch, caps: Capabilities, settings: Settings,
                   embedder: Embedder) -> list[dict[str, float]]:
    """Ask every question once with `provider`; the figures of each, in ms."""
    generator = build_generator(replace(settings, llm_provider=provider), embedder=embedder)
    params = AskParams(search=SearchParams(size=8))
    t0 = time.perf_counter()
    for _ in ask_stream(client, caps, settings.index, WARM_UP, params, embedder, generator):
        pass
    print(f"{provider}: warm-up (loads the model) {1000 * (time.perf_counter() - t0):.0f} ms")
    figures = []
    for question in QUESTIONS:
        started = time.perf_counter()
        first: float | None = None
        answer: Answer | None = None
        for part in ask_stream(client, caps, settings.index, question, params, embedder,
                               generator):
            if isinstance(part, str):
                first = first or time.perf_counter()
            else:
                answer = part
        ended = time.perf_counter()
        assert answer is not None
        figures.append({
            "retrieval": answer.timings.get("retrieval_ms", 0.0),
            "relevance": answer.timings.get("relevance_ms", 0.0),
            "first token": 1000 * ((first or ended) - started),
            "total": 1000 * (ended - started),
            "citations": float(len(answer.citations)),
        })
        print(f"  {question[:60]:<60} {figures[-1]['total']:8.0f} ms  "
              f"{len(answer.citations)} citation(s)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", default="extractive,local",
                        help="comma-separated providers (default: extractive,local)")
    args = parser.parse_args()
    settings = load_settings()
    client, caps = connect(settings)
    count = client.count(index=settings.index)["count"]
    if not count:
        raise SystemExit(f"index {settings.index!r} is empty: run `es-rag demo` first")
    print(f"{caps.engine} {caps.version}, index {settings.index!r}: {count} chunks, "
          f"{len(QUESTIONS)} questions")
    embedder = Embedder(settings.embedding_model)
    results = {p: bench_provider(p, client, caps, settings, embedder)
               for p in args.providers.split(",")}
    print()
    print(_row(["provider", *(f"{c} ms" for c in COLUMNS), "answers cited"]))
    for provider, figures in results.items():
        medians = [f"{statistics.median(f[c] for f in figures):.0f}" for c in COLUMNS]
        cited = sum(1 for f in figures if f["citations"])
        print(_row([provider, *medians, f"{cited}/{len(figures)}"]))
    print("(medians over the questions; relevance: the question-to-chunks similarity check "
          "before generating; first token and total from the moment the question is asked)")


if __name__ == "__main__":
    main()
