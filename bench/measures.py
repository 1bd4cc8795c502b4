"""How the benchmark measures: interleaved query timing, exact kNN for recall, bytes on disk."""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QueryRun = Callable[[int], list[str]]
"""Runs query number i and returns the ids of its hits, best first."""


@dataclass
class Latency:
    """Wall-clock latencies (ms) of one query type, the ids each query returned, or why the
    phase stopped."""

    ms: list[float] = field(default_factory=list)
    ids: list[list[str]] = field(default_factory=list)
    error: str | None = None

    def percentile(self, p: float) -> float | None:
        """The p-th percentile in ms; None when the phase failed or ran no query."""
        return float(np.percentile(self.ms, p)) if self.ms and not self.error else None


@dataclass(frozen=True)
class Runner:
    """A query type to time and the exceptions that mean "this system refused the query"."""

    run: QueryRun
    failures: tuple[type[Exception], ...]


def time_interleaved(runners: dict[str, Runner], count: int, warmup: int,
                     block: int = 20) -> dict[str, Latency]:
    """Warm each runner up, then time queries 0..count-1 on every runner, taking turns by
    blocks of `block` queries.

    Taking turns makes the systems compared see the same machine load; blocks rather than
    single queries keep one system's leftover work (thread pools winding down) out of the
    other's timings. A runner that raises one of its `failures` stops; the reason is kept."""
    latencies = {name: Latency() for name in runners}
    for name, runner in runners.items():
        try:
            for i in range(min(warmup, count)):
                runner.run(i)
        except runner.failures as error:
            latencies[name].error = str(error)[:300]
    for first in range(0, count, block):
        for name, runner in runners.items():
            latency = latencies[name]
            for i in range(first, min(first + block, count)):
                if latency.error:
                    break
                started = time.perf_counter()
                try:
                    ids = runner.run(i)
                except runner.failures as error:
                    latency.error = str(error)[:300]
                    break
                latency.ms.append((time.perf_counter() - started) * 1000)
                latency.ids.append(ids)
    return latencies


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the exact k nearest vectors by cosine, best first (unit vectors)."""
    scores = queries @ vectors.T
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def recall_at_k(latency: Latency, exact: np.ndarray, ids: list[str]) -> float | None:
    """Mean fraction of each query's exact top-k ids found in what it returned."""
    if latency.error or not latency.ids:
        return None
    return statistics.fmean(
        len({ids[j] for j in row} & set(found)) / len(row)
        for found, row in zip(latency.ids, exact, strict=False))


def disk_bytes(path: Path) -> int:
    """Bytes allocated to the files under `path`, as `du` counts them."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:  # a file replaced while walking
                continue
    return total


def parse_byte_size(text: str) -> int:
    """Bytes in an Elasticsearch size: "1234" (as `bytes=b` gives) or "33kb", "1.2gb"."""
    match = re.fullmatch(r"([\d.]+)\s*([kmgtp]?b)?", text.strip().lower())
    if not match:
        raise ValueError(f"not a byte size: {text!r}")
    power = "bkmgtp".index((match.group(2) or "b")[0])
    return int(float(match.group(1)) * 1024**power)
