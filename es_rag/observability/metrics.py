"""The Prometheus metrics of `es-rag serve`, in a registry of their own (one per app).

Request latency per route and mode, answers and refusals ("I don't know"), citation coverage,
empty retrievals, errors by kind and answer cache lookups. Rates are left to Prometheus: the
"I don't know" rate is
`rate(es_rag_answers_total{outcome="dont_know"}[5m]) / rate(es_rag_answers_total[5m])`.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from es_rag.observability.answers import citation_coverage, is_refusal

CONTENT_TYPE = CONTENT_TYPE_LATEST
# seconds: BM25 takes milliseconds, an answer from a language model seconds
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
COVERAGE_BUCKETS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


class ApiMetrics:
    """The metrics of one API app; `exposition()` is the text `GET /metrics` answers."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.latency = Histogram(
            "es_rag_request_duration_seconds", "Time to answer an API request (for a streamed "
            "answer, until the stream ends), by route, mode and status class",
            ("route", "mode", "status"), buckets=LATENCY_BUCKETS, registry=r)
        self.answers = Counter(
            "es_rag_answers_total", "Answers given, by mode, generator and outcome "
            "(answered, dont_know)", ("mode", "provider", "outcome"), registry=r)
        self.coverage = Histogram(
            "es_rag_answer_citation_coverage", "Share of an answer's sentences covered by a "
            "verified citation (refusals left out)", ("provider",), buckets=COVERAGE_BUCKETS,
            registry=r)
        self.citations_removed = Counter(
            "es_rag_answer_citations_removed_total", "Citation markers taken out of answers "
            "because no source supports them", ("provider",), registry=r)
        self.empty = Counter(
            "es_rag_empty_retrievals_total", "Searches that found no chunk, asks that found none "
            "relevant (answered without a source)",
            ("route", "mode"), registry=r)
        self.cache_lookups = Counter(
            "es_rag_answer_cache_total", "Answer cache lookups, by outcome (hit, miss)",
            ("outcome",), registry=r)
        self.errors = Counter(
            "es_rag_errors_total", "Error responses, by route, status and error type",
            ("route", "status", "kind"), registry=r)

    def request(self, route: str, mode: str, status: int, seconds: float) -> None:
        """One finished request."""
        self.latency.labels(route, mode, f"{status // 100}xx").observe(seconds)

    def search(self, route: str, mode: str, hits: int) -> None:
        """One search's result size."""
        if hits == 0:
            self.empty.labels(route, mode).inc()

    def answer(self, route: str, mode: str, answer: Any) -> None:
        """One answer (an `Answer`): outcome, citation coverage, removed citations, and an
        empty retrieval when it was given no source."""
        refused = is_refusal(answer)
        self.answers.labels(mode, answer.provider, "dont_know" if refused else "answered").inc()
        coverage = citation_coverage(answer)
        if coverage is not None:
            self.coverage.labels(answer.provider).observe(coverage)
        if answer.removed_citations:
            self.citations_removed.labels(answer.provider).inc(len(answer.removed_citations))
        if not answer.sources_used:
            self.empty.labels(route, mode).inc()

    def cache(self, hit: bool) -> None:
        """One answer cache lookup."""
        self.cache_lookups.labels("hit" if hit else "miss").inc()

    def error(self, route: str, status: int, kind: str) -> None:
        """One error response."""
        self.errors.labels(route, str(status), kind).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
