"""What an ingest run did: counts per stage, the files that failed and why, time per stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from es_rag.ingest.discover import SkippedPath, SourceFile

Progress = Callable[[str, int, int | None], None]
"""Called as progress(stage, done, total) with stage in hash, parse, embed, index, prune;
total is None when it is not known in advance."""


@dataclass(frozen=True)
class IngestFailure:
    """A file (or corpus record) that was not completely indexed, and why."""

    path: str
    source: str
    doc_id: str | None
    reason: str


@dataclass
class IngestReport:
    """What an ingest run did; `to_dict()` is its JSON form.

    `files_failed` counts files not completely indexed, whatever the stage: a file the cluster
    refused after it was parsed counts in both `files_parsed` and `files_failed`.
    """

    files_seen: int = 0
    files_parsed: int = 0
    files_unchanged: int = 0
    files_failed: int = 0
    files_pruned: int = 0
    files_skipped: int = 0
    legacy_replaced: int = 0
    """Documents indexed before sources existed (old ids) that this run replaced."""
    legacy_left: int = 0
    """Documents with old ids still in the index after this run (see docs/ingestion.md)."""
    chunks_indexed: int = 0
    chunks_failed: int = 0
    chunks_deleted: int = 0
    failures: list[IngestFailure] = field(default_factory=list)
    warnings: list[IngestFailure] = field(default_factory=list)
    """Files indexed with a caveat (text cut at the size limit)."""
    skipped: list[SkippedPath] = field(default_factory=list)
    """What was met in the folders but not read (FIFOs, devices, links), and why."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Time per stage (discover, hash, parse, chunk, embed, index, prune) and `total` wall time.

    Parsing runs alongside embedding, so the stages can add up to more than `total`."""

    @property
    def elapsed(self) -> float:
        """Wall time of the whole run, in seconds."""
        return self.seconds.get("total", 0.0)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data: files, chunks, failures, warnings and seconds."""
        return {
            "files": {"seen": self.files_seen, "parsed": self.files_parsed,
                      "unchanged": self.files_unchanged, "failed": self.files_failed,
                      "pruned": self.files_pruned, "skipped": self.files_skipped},
            "chunks": {"indexed": self.chunks_indexed, "failed": self.chunks_failed,
                       "deleted": self.chunks_deleted},
            "failures": [asdict(f) for f in self.failures],
            "warnings": [asdict(w) for w in self.warnings],
            "skipped": [asdict(s) for s in self.skipped],
            "legacy": {"replaced": self.legacy_replaced, "left": self.legacy_left},
            "seconds": {stage: round(s, 3) for stage, s in self.seconds.items()},
        }

    def fail(self, file: SourceFile, reason: str) -> None:
        """Count a failed file and keep the reason."""
        self.files_failed += 1
        self.failures.append(IngestFailure(str(file.path), file.source, file.doc_id, reason))

    def fail_path(self, path: str, reason: str) -> None:
        """Count a path given to ingest that could not be used (missing, not a file, ...)."""
        self.files_failed += 1
        self.failures.append(IngestFailure(path, "", None, reason))

    def skip(self, skipped: SkippedPath) -> None:
        """Keep a path met in a folder that was not read, with its reason."""
        self.files_skipped += 1
        self.skipped.append(skipped)

    @property
    def complete(self) -> bool:
        """True when every file was indexed (or unchanged): nothing failed."""
        return self.files_failed == 0

    def warn(self, file: SourceFile, reason: str) -> None:
        """Keep a caveat about a file that was indexed."""
        self.warnings.append(IngestFailure(str(file.path), file.source, file.doc_id, reason))

    def add_time(self, stage: str, seconds: float) -> None:
        """Add time spent in a stage."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def time_since(self, stage: str, started: float) -> None:
        """Add the time since `started` (a `time.perf_counter()` value) to a stage."""
        self.add_time(stage, time.perf_counter() - started)
