"""Embedding backends compared: torch (sentence-transformers) against ONNX Runtime fp32 and int8.

Prints, per backend: passages/s (wall and CPU) on SciFact passages, vector agreement with torch
(max abs diff, cosine), kNN nDCG@10 / Recall@100 on SciFact test queries through `es-rag eval`'s
path (`run_evaluation`: all test queries, their judged abstracts and `--distractors` others;
an index per `--indexed` backend, each searched with every backend's query vectors), and the
wall time of `es-rag search --mode knn` in a fresh process.
The machine may be shared: the load average is printed with the timings.

Usage: python bench/embedding_backends.py [--parts throughput,agreement,quality,cli]
       [--passages N] [--threads N] [--cli-runs N] [--cache DIR] [--data DIR] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from ingest_bench import DEFAULT_DATASET, cluster

from es_rag.config import Settings
from es_rag.embedding.factory import local_embedder

BACKENDS = ("torch", "onnx", "onnx-int8")
PARTS = ("throughput", "agreement", "quality", "cli")
QUERY = "Vitamin D deficiency increases the risk of cardiovascular disease"
_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """One progress line on stderr, stamped with seconds since the start."""
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def passages(dataset: Path, n: int) -> list[str]:
    """The first `n` SciFact documents as "title text", as evaluation embeds them."""
    with (dataset / "corpus.jsonl").open() as handle:
        rows = [json.loads(line) for line in itertools.islice(handle, n)]
    return [f"{row.get('title', '')} {row.get('text', '')}".strip() for row in rows]


def embedder(backend: str, cache: Path) -> Any:
    return local_embedder(Settings(embedding_backend=backend, embedding_cache=cache))


def throughput(texts: list[str], cache: Path, threads: int) -> dict[str, dict[str, float]]:
    """Passages/s of each backend on `threads` threads (model loading not counted)."""
    import torch

    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    out: dict[str, dict[str, float]] = {}
    for backend in BACKENDS:
        model = embedder(backend, cache)
        model.embed_documents(texts[:8])  # warm up
        load = load_average()
        wall, cpu = time.perf_counter(), time.process_time()
        model.embed_documents(texts)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out[backend] = {"passages_per_s": round(len(texts) / wall, 1),
                        "passages_per_cpu_s": round(len(texts) / cpu, 1),
                        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_avg": load}
        progress(f"throughput {backend}: {out[backend]}")
    for backend in BACKENDS[1:]:
        for key in ("passages_per_s", "passages_per_cpu_s"):
            out[backend][f"speedup_{key}"] = round(out[backend][key] / out["torch"][key], 2)
    return out


def agreement(texts: list[str], cache: Path) -> dict[str, dict[str, float]]:
    """Max abs diff and cosine of each ONNX backend's vectors against torch's."""
    reference = np.array(embedder("torch", cache).embed_documents(texts))
    out = {}
    for backend in BACKENDS[1:]:
        vectors = np.array(embedder(backend, cache).embed_documents(texts))
        cosine = (vectors * reference).sum(axis=1)
        out[backend] = {"max_abs_diff": float(np.abs(vectors - reference).max()),
                        "cosine_min": float(cosine.min()), "cosine_mean": float(cosine.mean())}
        progress(f"agreement {backend}: {out[backend]}")
    return out


def quality(dataset: Path, cache: Path, data: Path, indexed: list[str],
            distractors: int | None) -> dict[str, Any]:
    """kNN nDCG@10 and Recall@100 on SciFact test queries: an index per backend in `indexed`
    (one chunk per abstract, as BEIR embeds it), each searched with every backend's queries."""
    from es_rag.evaluate import parse_configs
    from es_rag.evaluate.judgments import load_beir
    from es_rag.evaluate.run import run_configs, run_evaluation
    from es_rag.evaluate.subset import Subset, select_queries

    configs, subset = parse_configs("knn"), Subset(None, distractors)
    judgments = select_queries(load_beir(dataset, "test").judgments, subset)
    out: dict[str, Any] = {"subset": subset.label}
    with cluster(None, data, fresh=False) as (client, caps):
        models = {b: embedder(b, cache) for b in BACKENDS}
        for backend in indexed:
            index = f"eval-scifact-{backend}-{subset.label.replace('+', '-')}"
            report = run_evaluation(client, caps, dataset, configs, embedder=models[backend],
                                    subset=subset, index=index, chunk_size=2048, overlap=0)
            progress(f"index {index}: {report.corpus.chunks} chunks, "
                     f"{report.corpus.seconds} s, reused {report.corpus.reused}")
            for queried in BACKENDS:
                means = run_configs(client, caps, index, judgments, configs,
                                    models[queried])["knn"].means
                key = f"index {backend}, queries {queried}"
                out[key] = {"ndcg@10": round(means["ndcg@10"], 4),
                            "recall@100": round(means["recall@100"], 4)}
                progress(f"quality {key}: {out[key]}")
    return out


def cli_wall_times(data: Path, cache: Path, runs: int) -> dict[str, dict[str, Any]]:
    """`es-rag search --mode knn` in fresh processes against a running engine, per backend."""
    from ingest_bench import ENGINE_PASSWORD

    out: dict[str, dict[str, Any]] = {}
    with cluster(None, data, fresh=False) as (client, caps):
        index = next(iter(client.indices.get(index="eval-scifact-torch*")), None)
        if index is None:
            raise SystemExit("run the quality part first: the cli part searches its torch index")
        for backend in ("torch", "onnx-int8", "onnx"):
            env = {**os.environ, "ES_RAG_URL": caps.url, "ES_RAG_USER": "elastic",
                   "ES_RAG_PASSWORD": ENGINE_PASSWORD, "ES_RAG_INDEX": index,
                   "ES_RAG_EMBEDDING_BACKEND": backend, "ES_RAG_EMBEDDING_CACHE": str(cache)}
            command = [sys.executable, "-m", "es_rag", "search", QUERY, "--mode", "knn", "--json"]
            walls, cpus, loads = [], [], []
            for _ in range(runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                loads.append(os.getloadavg()[0])
                started = time.perf_counter()
                done = subprocess.run(command, env=env, capture_output=True, text=True)
                walls.append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                if done.returncode != 0:
                    raise SystemExit(f"es-rag search failed ({backend}): {done.stderr.strip()}")
            out[backend] = {"wall_s_median": round(statistics.median(walls), 2),
                            "wall_s_min": round(min(walls), 2),
                            "cpu_s_median": round(statistics.median(cpus), 2),
                            "hits": len(json.loads(done.stdout)["hits"]),
                            "load_avg_1m": round(statistics.mean(loads), 2), "index": index}
            progress(f"cli {backend}: {out[backend]}")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"of {', '.join(PARTS)}")
    parser.add_argument("--indexed", default="torch,onnx-int8",
                        help="backends that embed an evaluation index (all backends query)")
    parser.add_argument("--distractors", type=int, default=500,
                        help="SciFact documents beyond the judged ones (-1: whole corpus)")
    parser.add_argument("--passages", type=int, default=256, help="passages timed per backend")
    parser.add_argument("--threads", type=int, default=2, help="threads per backend")
    parser.add_argument("--cli-runs", type=int, default=5, help="fresh processes per backend")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/es-rag-bench-onnx"),
                        help="ONNX export cache (embedding_cache)")
    parser.add_argument("--data", type=Path, default=Path("/tmp/es-rag-bench-backends"),
                        help="engine data; evaluation indices are reused across runs")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown parts: {', '.join(unknown)} (known: {', '.join(PARTS)})")
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "load_avg_start": load_average()}
    texts = passages(args.dataset, args.passages)
    if "throughput" in parts:
        figures["throughput"] = throughput(texts, args.cache, args.threads)
    if "agreement" in parts:
        figures["agreement"] = agreement(texts[:64] + [QUERY], args.cache)
    if "quality" in parts:
        figures["quality"] = quality(args.dataset, args.cache, args.data,
                                     args.indexed.split(","),
                                     None if args.distractors < 0 else args.distractors)
    if "cli" in parts:
        figures["cli"] = cli_wall_times(args.data, args.cache, args.cli_runs)
    figures["load_avg_end"] = load_average()
    for section, values in figures.items():
        print(f"{section}: {json.dumps(values, indent=1) if isinstance(values, dict) else values}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
