"""Benchmark of the embedded engine on SciFact-derived chunks: bulk indexing, BM25 / kNN / hybrid
latency, kNN recall, disk per chunk, and the same hybrid query through LanceDB as the peer.

Usage: python bench/engine_bench.py [--n 100000] [--json] [--url URL] [--queries 200] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from elasticsearch import ApiError, Elasticsearch, TransportError
from lancedb_peer import VECTOR_INDEX as LANCE_INDEX
from lancedb_peer import LanceHybrid, build_lancedb
from measures import (
    Latency,
    Runner,
    disk_bytes,
    exact_top_k,
    parse_byte_size,
    recall_at_k,
    time_interleaved,
)
from scifact_corpus import BenchCorpus, Chunk, build_corpus

REPO_ROOT = Path(__file__).resolve().parents[1]
MAPPING_FILE = REPO_ROOT / "mappings" / "chunks.json"
TEXT_INDEX, VECTOR_INDEX = "bench-chunks-text", "bench-chunks-vectors"
VECTOR_FIELD = "embedding"
BOOSTS = {"text": 1.0, "title": 1.0}  # es-rag's default boosts
"""The BM25 fields and boosts es-rag searches by default (minus `headings`, absent here)."""
K, NUM_CANDIDATES, RANK_WINDOW, RANK_CONSTANT = 10, 100, 100, 60
BULK_CHUNK = 500
WARMUP = 20
ENGINE_FAILURES = (ApiError, TransportError)
LANCEDB_FAILURES = (RuntimeError, ValueError, OSError)
TARGET_HYBRID_P50_MS, TARGET_RECALL, TARGET_BULK_VECTORS = 15.0, 0.95, 3000.0
_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """One progress line on stderr, stamped with seconds since the start."""
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BulkResult:
    """One bulk load: chunks per second by the engine (sending, indexing and refresh) and end
    to end (plus the client's JSON encoding), refused items, the first reason."""

    chunks_per_s: float
    end_to_end_per_s: float
    refused: int
    first_error: str | None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="chunks to index (default 100000)")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per type")
    parser.add_argument("--url", help="benchmark this running cluster instead of a fresh engine "
                        "(credentials in the URL: http://user:password@host:9200)")
    parser.add_argument("--data", type=Path, default=Path("/tmp/es-rag-bench"),
                        help="embedding cache and scratch space (default /tmp/es-rag-bench)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    return parser.parse_args(argv)


@contextmanager
def engine_client(url: str | None, scratch: Path) -> Iterator[tuple[Elasticsearch, Path | None]]:
    """A client and the engine's data dir: a fresh in-process engine (security on, as in a
    default install, with a generated `elastic` password) unless `url` is given."""
    if url:
        client = Elasticsearch(url, request_timeout=120)
        try:
            yield client, None
        finally:
            client.close()
        return
    from es_rag.engine.server import EngineServer

    data_dir = Path(tempfile.mkdtemp(prefix="engine-", dir=scratch))
    password = secrets.token_urlsafe(16)
    server = EngineServer(data_dir, port=0, elastic_password=password).start()
    progress(f"engine started at {server.url}")
    client = Elasticsearch(server.url, basic_auth=("elastic", password), request_timeout=120)
    try:
        yield client, data_dir
    finally:
        client.close()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def chunk_index_body(with_vectors: bool) -> dict[str, Any]:
    """Settings and mappings of mappings/chunks.json without its ingest pipeline (and without
    the vector field if asked)."""
    body = json.loads(MAPPING_FILE.read_text(encoding="utf-8"))
    body["settings"].pop("index.default_pipeline", None)
    if not with_vectors:
        del body["mappings"]["properties"][VECTOR_FIELD]
    return body


def bulk_lines(chunks: list[Chunk], vectors: np.ndarray | None, index: str
               ) -> list[dict[str, Any]]:
    """The `_bulk` action and source lines for some chunks; vectors as es-rag's ingest sends
    them (float32 values as JSON numbers)."""
    lines: list[dict[str, Any]] = []
    for row, chunk in enumerate(chunks):
        source = chunk.source()
        if vectors is not None:
            source[VECTOR_FIELD] = vectors[row].tolist()
        lines += [{"index": {"_index": index, "_id": chunk.chunk_id}}, source]
    return lines


def bulk_load(client: Elasticsearch, corpus: BenchCorpus, index: str,
              with_vectors: bool) -> BulkResult:
    """Create `index`, bulk-load the corpus into it by requests of 500 chunks, and refresh.

    The client's JSON encoding of each request is timed apart from sending it: the engine's
    rate counts sending, indexing and the final refresh; the end-to-end rate adds encoding."""
    if client.indices.exists(index=index):
        client.indices.delete(index=index)
    client.indices.create(index=index, **chunk_index_body(with_vectors))
    ndjson = client.transport.serializers.get_serializer("application/x-ndjson")
    slow = client.options(request_timeout=600)
    n, answered, refused, first_error = len(corpus.chunks), 0, 0, None
    encode_s = engine_s = 0.0
    for start in range(0, n, BULK_CHUNK):
        batch = corpus.chunks[start:start + BULK_CHUNK]
        began = time.perf_counter()
        vectors = corpus.vectors[start:start + BULK_CHUNK] if with_vectors else None
        body = ndjson.dumps(bulk_lines(batch, vectors, index))
        sent = time.perf_counter()
        try:
            response = slow.bulk(operations=body)
        except ENGINE_FAILURES as error:
            refused, first_error = refused + n - start, first_error or str(error)[:300]
            break
        engine_s += time.perf_counter() - sent
        encode_s += sent - began
        answered += len(batch)
        for item in response["items"] if response["errors"] else []:
            outcome = next(iter(item.values()))
            if "error" in outcome:
                refused += 1
                first_error = first_error or json.dumps(outcome["error"])[:300]
        if answered % 10_000 == 0:
            progress(f"{index}: {answered:,}/{n:,} sent ({answered / engine_s:,.0f}/s)")
    progress(f"{index}: refreshing")
    began = time.perf_counter()
    slow.indices.refresh(index=index)
    engine_s += time.perf_counter() - began
    return BulkResult(answered / engine_s, answered / (engine_s + encode_s), refused, first_error)


def bm25_body(text: str) -> dict[str, Any]:
    """The BM25 query: multi_match best_fields over text and title^2."""
    fields = [f"{name}^{boost:g}" for name, boost in BOOSTS.items()]
    return {"query": {"multi_match": {"query": text, "type": "best_fields", "fields": fields}}}


def knn_clause(vector: np.ndarray, k: int) -> dict[str, Any]:
    """A kNN search on the embedding field with num_candidates 100."""
    return {"field": VECTOR_FIELD, "query_vector": vector.tolist(), "k": k,
            "num_candidates": NUM_CANDIDATES}


def hybrid_body(text: str, vector: np.ndarray) -> dict[str, Any]:
    """The rrf retriever over the BM25 query and kNN, each leg contributing its top 100."""
    return {"retriever": {"rrf": {
        "retrievers": [{"standard": bm25_body(text)}, {"knn": knn_clause(vector, RANK_WINDOW)}],
        "rank_constant": RANK_CONSTANT,
        "rank_window_size": RANK_WINDOW,
    }}}


def engine_search(client: Elasticsearch, body_for: Callable[[int], dict[str, Any]]) -> Runner:
    """Query i on the vector index, returning the ids of its top 10 (`_source` minus vectors)."""
    def run(i: int) -> list[str]:
        response = client.search(index=VECTOR_INDEX, size=K, source={"excludes": [VECTOR_FIELD]},
                                 **body_for(i))
        return [hit["_id"] for hit in response["hits"]["hits"]]
    return Runner(run, ENGINE_FAILURES)


def index_store_bytes(client: Elasticsearch, index: str, data_dir: Path | None,
                      before: int) -> tuple[int | None, int]:
    """Bytes `index` added on disk (growth of the engine's data dir, else the store size that
    `_stats` or `_cat/indices` reports), and the data dir's size now."""
    try:
        client.indices.flush(index=index)
    except ApiError as error:
        progress(f"flush refused ({error.meta.status}): measuring after the refresh only")
    if data_dir is not None:
        now = disk_bytes(data_dir)
        return now - before, now
    try:
        stats = client.indices.stats(index=index, metric="store")
        return stats["indices"][index]["primaries"]["store"]["size_in_bytes"], before
    except (ApiError, KeyError):
        pass
    try:
        rows = client.cat.indices(index=index, bytes="b", format="json")
        return parse_byte_size(str(rows[0]["pri.store.size"])), before
    except (ApiError, KeyError, IndexError, ValueError):
        return None, before


def load_engine(client: Elasticsearch, corpus: BenchCorpus, data_dir: Path | None
                ) -> dict[str, Any]:
    """Bulk-load the text-only and the vector index; their speed and bytes per chunk."""
    n = len(corpus.chunks)
    baseline = disk_bytes(data_dir) if data_dir else 0
    progress(f"bulk loading {TEXT_INDEX} (text only)")
    text = bulk_load(client, corpus, TEXT_INDEX, with_vectors=False)
    text_bytes, after_text = index_store_bytes(client, TEXT_INDEX, data_dir, baseline)
    progress(f"bulk loading {VECTOR_INDEX} (text + vectors)")
    vectors = bulk_load(client, corpus, VECTOR_INDEX, with_vectors=True)
    # an engine may still be building its vector index in the background: look right away
    query_vectors = corpus.query_vectors
    right_after = time_interleaved(
        {"knn": engine_search(client, lambda i: {"knn": knn_clause(query_vectors[i], K)})},
        count=min(WARMUP, len(query_vectors)), warmup=0)["knn"]
    vector_bytes, _ = index_store_bytes(client, VECTOR_INDEX, data_dir, after_text)
    return {
        "bulk_chunks_per_s": text.chunks_per_s,
        "bulk_chunks_per_s_vectors": vectors.chunks_per_s,
        "bytes_per_chunk": None if vector_bytes is None else vector_bytes / n,
        "bytes_per_chunk_text_only": None if text_bytes is None else text_bytes / n,
        "bulk_end_to_end_chunks_per_s": text.end_to_end_per_s,
        "bulk_end_to_end_chunks_per_s_vectors": vectors.end_to_end_per_s,
        "bulk_refused": text.refused + vectors.refused,
        "knn_p50_ms_right_after_bulk": right_after.percentile(50),
        "errors": {name: reason for name, reason in
                   [("bulk_text", text.first_error), ("bulk_vectors", vectors.first_error)]
                   if reason},
    }


@contextmanager
def lancedb_peer(corpus: BenchCorpus, scratch: Path
                 ) -> Iterator[tuple[LanceHybrid | None, dict[str, Any]]]:
    """The LanceDB peer built on the same data (None if it failed) and its build figures."""
    directory = Path(tempfile.mkdtemp(prefix="lancedb-", dir=scratch))
    try:
        try:
            peer = build_lancedb(corpus, directory, progress)
        except LANCEDB_FAILURES as error:
            yield None, {"errors": {"lancedb": str(error)[:300]}}
            return
        progress(f"LanceDB built in {peer.build_s:.1f} s")
        yield peer, {
            "lancedb_vector_index": LANCE_INDEX,
            "lancedb_build_s": peer.build_s,
            "lancedb_bytes_per_chunk": disk_bytes(directory) / len(corpus.chunks),
            "errors": {},
        }
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def time_searches(client: Elasticsearch, peer: LanceHybrid | None, corpus: BenchCorpus
                  ) -> dict[str, Latency]:
    """BM25, kNN and hybrid on the engine; kNN and hybrid interleaved with LanceDB's."""
    texts, vectors = corpus.queries, corpus.query_vectors
    count = len(texts)
    progress("timing BM25 queries")
    latencies = time_interleaved(
        {"bm25": engine_search(client, lambda i: bm25_body(texts[i]))}, count, WARMUP)
    knn = {"knn": engine_search(client, lambda i: {"knn": knn_clause(vectors[i], K)})}
    hybrid = {"hybrid": engine_search(client, lambda i: hybrid_body(texts[i], vectors[i]))}
    if peer is not None:
        knn["lancedb_knn"] = Runner(
            lambda i: peer.knn_ids(vectors[i], NUM_CANDIDATES, K), LANCEDB_FAILURES)
        hybrid["lancedb_hybrid"] = Runner(
            lambda i: peer.hybrid_ids(texts[i], vectors[i], BOOSTS, RANK_WINDOW, K),
            LANCEDB_FAILURES)
    progress(f"timing kNN queries: {', '.join(knn)} interleaved")
    latencies.update(time_interleaved(knn, count, WARMUP))
    progress(f"timing hybrid RRF queries: {', '.join(hybrid)} interleaved")
    latencies.update(time_interleaved(hybrid, count, WARMUP))
    return latencies


def run_benchmark(args: argparse.Namespace, corpus: BenchCorpus) -> dict[str, Any]:
    """All phases; the figures keyed as in the JSON line, required keys first."""
    load_before = os.getloadavg()[0]
    ids = [c.chunk_id for c in corpus.chunks]
    progress("exact top-10 with numpy, for recall")
    exact = exact_top_k(corpus.vectors, corpus.query_vectors, K)
    with engine_client(args.url, args.data) as (client, data_dir):
        loaded = load_engine(client, corpus, data_dir)
        progress("LanceDB peer: building the table and its indexes")
        with lancedb_peer(corpus, args.data) as (peer, built):
            latencies = time_searches(client, peer, corpus)
        for index in (TEXT_INDEX, VECTOR_INDEX):
            client.indices.delete(index=index, ignore_unavailable=True)
    bm25, knn, hybrid = latencies["bm25"], latencies["knn"], latencies["hybrid"]
    lance_hybrid = latencies.get("lancedb_hybrid", Latency())
    lance_knn = latencies.get("lancedb_knn", Latency())
    errors = {**loaded.pop("errors"), **built.pop("errors"),
              **{name: lat.error for name, lat in latencies.items() if lat.error}}
    return {
        "n": args.n,
        "bulk_chunks_per_s": loaded.pop("bulk_chunks_per_s"),
        "bulk_chunks_per_s_vectors": loaded.pop("bulk_chunks_per_s_vectors"),
        "bm25_p50_ms": bm25.percentile(50),
        "knn_p50_ms": knn.percentile(50),
        "hybrid_p50_ms": hybrid.percentile(50),
        "hybrid_p95_ms": hybrid.percentile(95),
        "recall_at_10": recall_at_k(knn, exact, ids),
        "bytes_per_chunk": loaded.pop("bytes_per_chunk"),
        "lancedb_hybrid_p50_ms": lance_hybrid.percentile(50),
        "bm25_p95_ms": bm25.percentile(95),
        "knn_p95_ms": knn.percentile(95),
        **loaded,
        "lancedb_hybrid_p95_ms": lance_hybrid.percentile(95),
        "lancedb_knn_p50_ms": lance_knn.percentile(50),
        "lancedb_recall_at_10": recall_at_k(lance_knn, exact, ids),
        **built,
        "queries": len(corpus.queries),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "errors": errors,
    }


def _number(value: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "MISSED")


def _compare(value: float | None, target: float | None, at_most: bool) -> bool | None:
    if value is None or target is None:
        return None
    return value <= target if at_most else value >= target


def format_report(f: dict[str, Any]) -> list[str]:
    """Human-readable lines: each figure, with its target and whether it is met."""
    hybrid, lance = f["hybrid_p50_ms"], f["lancedb_hybrid_p50_ms"]
    bulk_vectors, recall = f["bulk_chunks_per_s_vectors"], f["recall_at_10"]
    lines = [
        f"engine benchmark: {f['n']:,} SciFact-derived chunks, {f['queries']} SciFact queries, "
        f"latencies client-side after {WARMUP} warm-up queries; 1-min load average "
        f"{f['load_avg_1m'][0]:g} -> {f['load_avg_1m'][1]:g} on {os.cpu_count()} CPUs",
        f"bulk, text only           {_number(f['bulk_chunks_per_s'], '>8,.0f')} chunks/s "
        f"(refresh included; {_number(f['bulk_end_to_end_chunks_per_s'], ',.0f')}/s with "
        f"the client's JSON encoding)",
        f"bulk, text + vectors      {_number(bulk_vectors, '>8,.0f')} chunks/s "
        f"(refresh included; {_number(f['bulk_end_to_end_chunks_per_s_vectors'], ',.0f')}/s "
        f"with the client's JSON encoding)   target >= {TARGET_BULK_VECTORS:,.0f}: "
        f"{_verdict(_compare(bulk_vectors, TARGET_BULK_VECTORS, at_most=False))}",
        f"BM25 top-10               p50 {_number(f['bm25_p50_ms'], '.2f', ' ms')}  "
        f"p95 {_number(f['bm25_p95_ms'], '.2f', ' ms')}",
        f"kNN top-10 (nc {NUM_CANDIDATES})       p50 {_number(f['knn_p50_ms'], '.2f', ' ms')}  "
        f"p95 {_number(f['knn_p95_ms'], '.2f', ' ms')}   (p50 of the first {WARMUP} right after "
        f"the bulk and refresh: {_number(f['knn_p50_ms_right_after_bulk'], '.2f', ' ms')})",
        f"hybrid RRF top-10         p50 {_number(hybrid, '.2f', ' ms')}  "
        f"p95 {_number(f['hybrid_p95_ms'], '.2f', ' ms')}   "
        f"target p50 <= {TARGET_HYBRID_P50_MS:g} ms: "
        f"{_verdict(_compare(hybrid, TARGET_HYBRID_P50_MS, at_most=True))}; "
        f"not slower than LanceDB: {_verdict(_compare(hybrid, lance, at_most=True))}",
        f"kNN recall@10             {_number(recall, '.4f')}   target >= {TARGET_RECALL}: "
        f"{_verdict(_compare(recall, TARGET_RECALL, at_most=False))}",
        f"disk per chunk            {_number(f['bytes_per_chunk'], ',.0f', ' bytes')} with "
        f"vectors, {_number(f['bytes_per_chunk_text_only'], ',.0f', ' bytes')} text only",
        f"LanceDB hybrid RRF top-10 p50 {_number(lance, '.2f', ' ms')}  "
        f"p95 {_number(f.get('lancedb_hybrid_p95_ms'), '.2f', ' ms')}   "
        f"(peer reference: same data, each leg's top {RANK_WINDOW}, RRF K={RANK_CONSTANT})",
    ]
    if "lancedb_vector_index" in f:
        lines.append(
            f"LanceDB vector index      {f['lancedb_vector_index']}; kNN p50 "
            f"{_number(f['lancedb_knn_p50_ms'], '.2f', ' ms')}, recall@10 "
            f"{_number(f['lancedb_recall_at_10'], '.4f')}; build "
            f"{f['lancedb_build_s']:.1f} s, {f['lancedb_bytes_per_chunk']:,.0f} bytes/chunk")
    if f["bulk_refused"]:
        lines.append(f"bulk items refused: {f['bulk_refused']:,}")
    lines += [f"error in {phase}: {reason}" for phase, reason in f["errors"].items()]
    return lines


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures (and the JSON line with --json)."""
    args = parse_args(argv)
    if args.n < K:
        raise SystemExit(f"engine_bench: --n must be at least {K}, got {args.n}")
    progress(f"building the corpus: {args.n:,} chunks, {args.queries} queries")
    try:
        args.data.mkdir(parents=True, exist_ok=True)
        corpus = build_corpus(args.n, args.queries, args.data)
    except (ValueError, OSError) as error:
        raise SystemExit(f"engine_bench: {error}") from None
    figures = run_benchmark(args, corpus)
    print("\n".join(format_report(figures)), flush=True)
    if args.json:
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
