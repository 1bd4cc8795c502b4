"""Rerank latency of the cross-encoder stage for the top 50, torch against ONNX Runtime, and
how far their rankings agree.

```
.venv/bin/python bench/rerank_latency.py                         # train a small reranker first
.venv/bin/python bench/rerank_latency.py --model ~/.es-rag/models/reranker-v1   # your own
.venv/bin/python bench/rerank_latency.py --queries 10 --backends torch,onnx-int8
```

The cross-encoder: `--model` (a folder `es-rag finetune reranker` wrote), else one trained here
with `es_rag.finetune.reranker.train_reranker` from the packaged MiniLM weights on
`--train-queries` SciFact training queries (`qrels/train.tsv`) with random negatives for
`--train-steps` steps (cached in `--cache`; a small model whose scores are real, not a good one).
Each query: a SciFact test query and 50 passages (its judged abstracts and random others, title
+ text, longer than `max_length` tokens for most), reranked by `CrossEncoderReranker` as
`hybrid+rerank` runs it (batch size 16). Per backend and `max_length`: the load time (the first
load also exports the model to ONNX once, when no export is cached), p50/p95 wall and median CPU
time of one rerank of 50 over `--queries` queries (after one warm-up), with the load average.
Agreement of each ONNX backend with torch at the same `max_length`: Spearman's rank
correlation of the 50 scores, and the overlap of the top 10, averaged over the queries.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from es_rag.config import PROJECT_ROOT
from es_rag.retrieve.hits import Hit
from es_rag.retrieve.rerank import CrossEncoderReranker

SCIFACT = PROJECT_ROOT.parent / "shared" / "datasets" / "scifact"
TOP = 50


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def trained_model(cache: Path, queries: int, steps: int) -> Path:
    """A reranker trained here (once; reused from `cache`)."""
    from es_rag.finetune.data import from_dataset
    from es_rag.finetune.reranker import RERANKER_PARAMS, train_reranker

    folder = cache / f"reranker-q{queries}-s{steps}"
    if (folder / "manifest.json").is_file():
        return folder
    data = from_dataset(SCIFACT)
    data = replace(data, queries=data.queries[:queries])
    rng = random.Random(5)
    ids = sorted(data.passages)
    pools = {q.qid: [*q.positives, *rng.sample(ids, 20)] for q in data.queries}
    started = time.perf_counter()
    manifest = train_reranker(data, pools, "all-MiniLM-L6-v2", folder,
                              params=replace(RERANKER_PARAMS, max_steps=steps, epochs=1))
    print(f"trained {folder} in {time.perf_counter() - started:.0f} s "
          f"(held-out {manifest.metrics['held_out']['after']})", file=sys.stderr)
    return folder


def test_sets(n: int) -> list[tuple[str, list[Hit]]]:
    """`n` SciFact test queries, each with its judged abstracts and random others (50)."""
    corpus = {}
    with (SCIFACT / "corpus.jsonl").open() as handle:
        for line in handle:
            row = json.loads(line)
            corpus[row["_id"]] = f"{row.get('title', '')} {row.get('text', '')}".strip()
    queries = {}
    with (SCIFACT / "queries.jsonl").open() as handle:
        for line in handle:
            row = json.loads(line)
            queries[row["_id"]] = row["text"]
    judged: dict[str, list[str]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, doc, _ = line.split("\t")
        judged.setdefault(qid, []).append(doc)
    rng = random.Random(11)
    ids = sorted(corpus)
    sets = []
    for qid in list(judged)[:n]:
        docs = [d for d in judged[qid] if d in corpus]
        docs += [d for d in rng.sample(ids, TOP) if d not in docs][:TOP - len(docs)]
        rng.shuffle(docs)
        sets.append((queries[qid], [Hit(chunk_id=d, doc_id=d, score=1.0, text=corpus[d])
                                    for d in docs]))
    return sets


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def measure(model: Path, backend: str, max_length: int,
            sets: list[tuple[str, list[Hit]]]) -> tuple[dict[str, Any], list[dict[str, float]]]:
    """Latency figures of one backend and the scores of each query's 50 passages."""
    reranker = CrossEncoderReranker(model, top_n=TOP, batch_size=16, time_budget_s=600,
                                    backend=backend, max_length=max_length)
    started = time.perf_counter()
    reranker.rerank(sets[0][0], sets[0][1][:2])  # loads (and exports, once) the model
    loaded = time.perf_counter() - started
    reranker.rerank(*sets[0])  # warm-up
    walls, cpus, scores = [], [], []
    load = load_average()
    for query, hits in sets:
        wall, cpu = time.perf_counter(), time.process_time()
        ranked = reranker.rerank(query, hits)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        scores.append({h.chunk_id: float(h.rerank_score or 0.0) for h in ranked})
    figures = {"load_s": round(loaded, 2), "p50_ms": round(statistics.median(walls), 1),
               "p95_ms": round(float(np.percentile(walls, 95)), 1),
               "cpu_ms_median": round(statistics.median(cpus), 1), "queries": len(sets),
               "warnings": reranker.warnings, "load_avg": load}
    return figures, scores


def agreement(reference: list[dict[str, float]], other: list[dict[str, float]]
              ) -> dict[str, float]:
    rhos, overlaps = [], []
    for ref, oth in zip(reference, other, strict=True):
        ids = sorted(ref)
        rhos.append(spearman([ref[i] for i in ids], [oth[i] for i in ids]))
        top = {i for i in sorted(ref, key=lambda i: -ref[i])[:10]}
        overlaps.append(len(top & set(sorted(oth, key=lambda i: -oth[i])[:10])) / 10)
    return {"spearman_mean": round(statistics.mean(rhos), 4),
            "spearman_min": round(min(rhos), 4),
            "top10_overlap_mean": round(statistics.mean(overlaps), 3),
            "top10_overlap_min": round(min(overlaps), 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a reranker folder (default: train one)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/es-rag-bench-reranker"))
    parser.add_argument("--train-queries", type=int, default=80)
    parser.add_argument("--train-steps", type=int, default=40)
    parser.add_argument("--queries", type=int, default=20, help="timed queries (top 50 each)")
    parser.add_argument("--backends", default="torch,onnx-int8,onnx")
    parser.add_argument("--max-lengths", default="256,128")
    args = parser.parse_args(argv)
    model = args.model or trained_model(args.cache, args.train_queries, args.train_steps)
    sets = test_sets(args.queries)
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "model": str(model),
                               "load_avg_start": load_average()}
    for max_length in (int(m) for m in args.max_lengths.split(",")):
        scores = {}
        for backend in args.backends.split(","):
            key = f"{backend}, max_length {max_length}"
            figures[key], scores[backend] = measure(model, backend, max_length, sets)
            print(f"{key}: {json.dumps(figures[key])}", file=sys.stderr, flush=True)
        for backend in [b for b in scores if b != "torch"]:
            if "torch" in scores:
                figures[f"agreement {backend} vs torch, max_length {max_length}"] = agreement(
                    scores["torch"], scores[backend])
    figures["load_avg_end"] = load_average()
    for section, values in figures.items():
        print(f"{section}: {json.dumps(values, indent=1) if isinstance(values, dict) else values}")


if __name__ == "__main__":
    main()
