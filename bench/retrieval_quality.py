"""Retrieval quality and latency on SciFact: nDCG@10, Recall@100 and MRR@10 of bm25, knn and
hybrid over the corpus ingested with the default pipeline, and p50/p95 search latency per mode.

Usage: python bench/retrieval_quality.py [--dataset DIR] [--json] [--url URL] [--limit-queries N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch
from ingest_bench import DEFAULT_DATA, DEFAULT_DATASET, INDEX, apply_assets, cluster, ingest

from es_rag.connect import Capabilities
from es_rag.embedding.local import Embedder
from es_rag.evaluate import Judgments, JudgmentsError, load_beir, score_ranking
from es_rag.evaluate.run import documents_of
from es_rag.retrieve import SearchParams, search
from es_rag.retrieve.params import DEFAULT_BOOSTS, parse_boosts

MODES = ("bm25", "knn", "hybrid")
METRICS = ("ndcg@10", "recall@100", "mrr@10")
DEPTH = 100  # chunks fetched per query: enough for Recall@100 once aggregated to documents
TARGET_NDCG = {"bm25": 0.68, "knn": 0.64, "hybrid": 0.71}
_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """One progress line on stderr, stamped with seconds since the start."""
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


class TimedEmbedder:
    """The query embedder `search` calls, recording how long each query took to embed."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.last_ms = 0.0

    def embed_query(self, text: str) -> list[float]:
        started = time.perf_counter()
        vector = self.embedder.embed_query(text)
        self.last_ms = (time.perf_counter() - started) * 1000
        return vector


def latency_figures(prefix: str, values_ms: Sequence[float]) -> dict[str, float]:
    """`<prefix>_p50_ms` and `<prefix>_p95_ms`, rounded to 0.1 ms."""
    p50, p95 = np.percentile(values_ms, [50, 95])
    return {f"{prefix}_p50_ms": round(float(p50), 1), f"{prefix}_p95_ms": round(float(p95), 1)}


def run_mode(client: Elasticsearch, caps: Capabilities, judgments: Judgments, mode: str,
             embedder: TimedEmbedder, boosts: Mapping[str, float]) -> dict[str, Any]:
    """Search every query in `mode`; metrics over document rankings and latency figures.

    End-to-end time is the wall time of `search()`, query embedding included; `search` is that
    time minus the embedding.
    """
    params = SearchParams(mode=mode, size=DEPTH, boosts=boosts, k=DEPTH, num_candidates=DEPTH,
                          rank_window_size=DEPTH)
    rankings: dict[str, list[str]] = {}
    end_to_end: list[float] = []
    embedding: list[float] = []
    path = mode
    for n, (qid, text) in enumerate(judgments.queries.items(), 1):
        embedder.last_ms = 0.0
        started = time.perf_counter()
        result = search(client, caps, INDEX, text, params, embedder)
        end_to_end.append((time.perf_counter() - started) * 1000)
        embedding.append(embedder.last_ms)
        rankings[qid] = [doc for doc, _ in documents_of(result.hits)]
        path = result.path_used
        if n % 100 == 0:
            progress(f"{mode}: {n}/{len(judgments.queries)} queries")
    scores = score_ranking(judgments.qrels, rankings, METRICS)
    figures: dict[str, Any] = {"path": path, **{m: round(scores.means[m], 4) for m in METRICS}}
    figures.update(latency_figures("end_to_end", end_to_end))
    figures.update(latency_figures("search", [e - q for e, q in zip(end_to_end, embedding,
                                                                     strict=True)]))
    if mode != "bm25":
        figures.update(latency_figures("query_embedding", embedding))
    return figures


def format_report(result: dict[str, Any]) -> list[str]:
    """A table of the figures, with each mode's nDCG@10 beside its target."""
    lines = [f"SciFact {result['split']}: {result['queries']} queries over "
             f"{result['documents']:,} documents in {result['chunks']:,} chunks "
             f"(index {result['index']!r}, BM25 boosts {result['boosts']})",
             f"{'mode':7s} {'nDCG@10':>8s} {'target':>8s} {'':6s} {'R@100':>7s} {'MRR@10':>7s}"
             f" {'e2e p50':>8s} {'e2e p95':>8s} {'search p50':>10s} {'p95':>7s}"
             f" {'embed p50':>9s} {'p95':>7s}  path"]
    for mode in result["modes"]:
        f = {"query_embedding_p50_ms": 0.0, "query_embedding_p95_ms": 0.0,
             **result["modes"][mode]}
        target = TARGET_NDCG[mode]
        verdict = "met" if f["ndcg@10"] >= target else "MISSED"
        lines.append(
            f"{mode:7s} {f['ndcg@10']:8.4f} {'>= ' + format(target, '.2f'):>8s} {verdict:6s}"
            f" {f['recall@100']:7.4f} {f['mrr@10']:7.4f}"
            f" {f['end_to_end_p50_ms']:8.1f} {f['end_to_end_p95_ms']:8.1f}"
            f" {f['search_p50_ms']:10.1f} {f['search_p95_ms']:7.1f}"
            f" {f['query_embedding_p50_ms']:9.1f} {f['query_embedding_p95_ms']:7.1f}"
            f"  {f['path']}")
    lines.append(f"latencies in ms; e2e = search() wall time including the query embedding; "
                 f"1-minute load average at the end: {result['load_average_1m']:.2f}")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET,
                        help="BEIR dataset folder (default: SciFact)")
    parser.add_argument("--split", default="test", help="qrels split (default test)")
    parser.add_argument("--limit-queries", type=int, help="search only the first N queries")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated modes to run (default bm25,knn,hybrid)")
    parser.add_argument("--boosts", help="BM25 fields and boosts, e.g. text^1,title^1 "
                                         "(default: es-rag's default boosts)")
    parser.add_argument("--url", help="search this running cluster instead of an engine")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"engine data dir, shared with ingest_bench.py "
                             f"(default {DEFAULT_DATA})")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Make sure the corpus is ingested, search every query in each mode, print the figures."""
    args = parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        raise SystemExit(f"--modes: unknown mode(s) {', '.join(unknown) or '(none given)'} "
                         f"(accepted: {', '.join(MODES)})")
    try:
        boosts = parse_boosts(args.boosts) if args.boosts else dict(DEFAULT_BOOSTS)
    except ValueError as exc:
        raise SystemExit(f"--boosts: {exc}") from None
    try:
        dataset = load_beir(args.dataset, args.split)
    except JudgmentsError as exc:
        raise SystemExit(f"--dataset: {exc}") from None
    judgments = dataset.judgments
    if args.limit_queries is not None:
        if args.limit_queries < 1:
            raise SystemExit(f"--limit-queries must be at least 1, got {args.limit_queries}")
        judgments = judgments.subset(list(judgments.queries)[:args.limit_queries])
    embedder = Embedder()
    args.data.mkdir(parents=True, exist_ok=True)
    with cluster(args.url, args.data, fresh=False) as (client, caps):
        apply_assets(client, caps)
        # unchanged records are skipped: after ingest_bench.py on the same data, nothing is embedded
        report = ingest(client, dataset.corpus_path, embedder, force=False, label="corpus")
        if report.files_failed:
            progress(f"{report.files_failed} records failed to ingest; first: "
                     f"{report.failures[0].reason}")
        chunks = int(client.count(index=INDEX)["count"])
        timed = TimedEmbedder(embedder)
        timed.embed_query("warm-up")
        figures = {}
        for mode in modes:
            progress(f"{mode}: searching {len(judgments.queries)} queries")
            figures[mode] = run_mode(client, caps, judgments, mode, timed, boosts)
    result = {"dataset": dataset.root.name, "split": args.split, "index": INDEX,
              "queries": len(judgments.queries), "documents": report.files_seen,
              "chunks": chunks, "embedded_now": report.chunks_indexed,
              "targets_ndcg@10": TARGET_NDCG, "load_average_1m": round(os.getloadavg()[0], 2),
              "boosts": boosts, "modes": figures}
    print("\n".join(format_report(result)))
    if args.json:
        print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
