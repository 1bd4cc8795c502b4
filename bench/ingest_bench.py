"""Benchmark of ingestion on SciFact's corpus as JSONL records: wall time against time spent
embedding, chunks per second, and a second run with nothing changed.

Usage: python bench/ingest_bench.py [--dataset DIR] [--limit N] [--json] [--url URL] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from es_rag import assets
from es_rag.config import PROJECT_ROOT
from es_rag.connect import Capabilities, detect_capabilities
from es_rag.embedding.local import Embedder
from es_rag.ingest import IngestReport, ingest_records
from es_rag.ingest.options import IngestOptions

DEFAULT_DATASET = PROJECT_ROOT.parent / "shared" / "datasets" / "scifact"
DEFAULT_DATA = Path("/tmp/es-rag-bench-scifact")
"""Scratch space shared with `retrieval_quality.py`, so the corpus is embedded once."""
INDEX = "chunks"
ENGINE_PASSWORD = "es-rag-bench"
"""The engine's `elastic` password (the engine serves with security on, as by default)."""
TARGET_WALL_OVER_EMBED, TARGET_SECOND_OVER_FIRST = 1.10, 0.10
_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """One progress line on stderr, stamped with seconds since the start."""
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


class StageProgress:
    """An ingest `Progress` callback that prints a stage's counts every `every` seconds."""

    def __init__(self, label: str, every: float = 10.0) -> None:
        self.label = label
        self.every = every
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            progress(f"{self.label}: {stage} {done}" + (f"/{total}" if total else ""))


@contextmanager
def cluster(url: str | None, data_dir: Path, *, fresh: bool
            ) -> Iterator[tuple[Elasticsearch, Capabilities]]:
    """A client for `url`, or for an engine started on `data_dir/engine` (emptied if `fresh`),
    with the cluster's capabilities."""
    server = None
    if url is None:
        from es_rag.engine.server import EngineServer

        engine_dir = data_dir / "engine"
        if fresh and engine_dir.exists():
            shutil.rmtree(engine_dir)
        engine_dir.mkdir(parents=True, exist_ok=True)
        server = EngineServer(engine_dir, port=0, elastic_password=ENGINE_PASSWORD).start()
        progress(f"engine started on {engine_dir}")
        client = Elasticsearch(server.url, basic_auth=("elastic", ENGINE_PASSWORD),
                               request_timeout=600)
        url = server.url
    else:
        client = Elasticsearch(url, request_timeout=600)  # credentials may be in the URL
    try:
        yield client, detect_capabilities(client, url, client.info().body, embedded=False)
    finally:
        client.close()
        if server is not None:
            server.stop()


def apply_assets(client: Elasticsearch, caps: Capabilities) -> None:
    """Create (or bring up to date) the chunk index and its pipeline from the repository files."""
    changes = assets.apply(client, caps, assets.load_assets(PROJECT_ROOT))
    for change in changes:
        progress(f"applied: {change.action} {change.kind} {change.name}")


def corpus_file(dataset: Path, limit: int | None, scratch: Path) -> Path:
    """The dataset's `corpus.jsonl`, or a copy of its first `limit` lines under `scratch`."""
    corpus = dataset / "corpus.jsonl"
    if not corpus.is_file():
        raise SystemExit(f"{corpus}: no such file (pass --dataset, a BEIR dataset folder)")
    if limit is None:
        return corpus
    if limit < 1:
        raise SystemExit(f"--limit must be at least 1, got {limit}")
    copy = scratch / "corpus.jsonl"  # same file name: same chunk sources as the full corpus
    with corpus.open(encoding="utf-8") as lines:
        copy.write_text("".join(islice(lines, limit)), encoding="utf-8")
    return copy


def ingest(client: Elasticsearch, corpus: Path, embedder: Embedder, *, force: bool,
           label: str) -> IngestReport:
    """One `ingest_records` run of `corpus` into the chunk index through its default pipeline."""
    progress(f"{label}: ingesting {corpus}")
    report = ingest_records(client, corpus, IngestOptions(index=INDEX, embedder=embedder,
                                                          force=force),
                            progress=StageProgress(label))
    progress(f"{label}: {report.files_seen} records, {report.chunks_indexed} chunks indexed, "
             f"{report.files_unchanged} unchanged, {report.files_failed} failed "
             f"in {report.elapsed:.1f} s")
    return report


def figures(first: IngestReport, second: IngestReport, model_load_s: float) -> dict[str, Any]:
    """The benchmark's figures from the two runs' reports."""
    wall, embed = first.elapsed, first.seconds.get("embed", 0.0)
    return {
        "records": first.files_seen,
        "chunks": first.chunks_indexed,
        "failed": first.files_failed,
        "wall_s": round(wall, 2),
        "embed_s": round(embed, 2),
        "wall_over_embed": round(wall / embed, 3) if embed else None,
        "chunks_per_s": round(first.chunks_indexed / wall, 1) if wall else None,
        "second_wall_s": round(second.elapsed, 2),
        "second_over_first": round(second.elapsed / wall, 4) if wall else None,
        "second_unchanged": second.files_unchanged,
        "second_chunks_indexed": second.chunks_indexed,
        "model_load_s": round(model_load_s, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "stages_s": {k: round(v, 2) for k, v in first.seconds.items()},
        "second_stages_s": {k: round(v, 2) for k, v in second.seconds.items()},
    }


def format_report(f: dict[str, Any]) -> list[str]:
    """Human-readable lines with each figure beside its target."""
    def verdict(value: float | None, target: float) -> str:
        return "n/a" if value is None else ("met" if value <= target else "MISSED")

    stages = ", ".join(f"{k} {v:.1f}" for k, v in f["stages_s"].items())
    return [
        f"records {f['records']:,}  chunks {f['chunks']:,}  failed {f['failed']}",
        f"first run wall        {f['wall_s']:9.1f} s   ({stages})",
        f"time embedding        {f['embed_s']:9.1f} s",
        f"wall / embedding      {f['wall_over_embed']:9.3f}     target <= "
        f"{TARGET_WALL_OVER_EMBED:.2f}  {verdict(f['wall_over_embed'], TARGET_WALL_OVER_EMBED)}",
        f"chunks/s              {f['chunks_per_s']:9.1f}",
        f"second run wall       {f['second_wall_s']:9.2f} s   "
        f"({f['second_unchanged']:,} unchanged, {f['second_chunks_indexed']} chunks indexed)",
        f"second / first        {f['second_over_first']:9.4f}     target <  "
        f"{TARGET_SECOND_OVER_FIRST:.2f}  "
        f"{verdict(f['second_over_first'], TARGET_SECOND_OVER_FIRST)}",
        f"(model load before the runs: {f['model_load_s']:.1f} s, not counted; "
        f"1-minute load average at the end: {f['load_average_1m']:.2f})",
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET,
                        help="BEIR dataset folder holding corpus.jsonl (default: SciFact)")
    parser.add_argument("--limit", type=int, help="ingest only the first N records")
    parser.add_argument("--url", help="ingest into this running cluster instead of an engine")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"engine data dir and scratch space (default {DEFAULT_DATA})")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run both ingests and print the figures."""
    args = parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    embedder = Embedder()
    model_load_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(dir=args.data) as scratch, \
            cluster(args.url, args.data, fresh=True) as (client, caps):
        corpus = corpus_file(args.dataset, args.limit, Path(scratch))
        apply_assets(client, caps)
        # force: the first run embeds everything even when the index already holds the corpus
        first = ingest(client, corpus, embedder, force=True, label="first run")
        second = ingest(client, corpus, embedder, force=False, label="second run")
    result = figures(first, second, model_load_s)
    print("\n".join(format_report(result)))
    if args.json:
        print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
