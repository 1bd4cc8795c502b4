"""Records of finished runs (ingest, evaluation, tuning) under `<data>/runs/`, for CLI and UI.

Records are JSON files private to the user (folders 0700, files 0600, as the engine keeps its
data), named `<kind>-<UTC timestamp>-<pid>.json`, so name order is time order. The CLI and the
admin UI write them alike; an ingest record is `IngestReport.to_dict()`, possibly with `paths`,
`index` and `user` added.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from es_rag.engine.storage.private import private_folder
from es_rag.engine.storage.state import write_atomically

KINDS = ("ingest", "eval", "answers", "tune", "finetune")
_STAMP = "%Y%m%dT%H%M%S%fZ"


def display_time(stamp: str) -> str:
    """A record's `finished` stamp as `2026-11-21 22:47:50` (unchanged if unparsable)."""
    try:
        return datetime.strptime(str(stamp)[:15], "%Y%m%dT%H%M%S").strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(stamp)


def runs_dir(data: Path) -> Path:
    """Where run records live: `<data>/runs`."""
    return Path(data) / "runs"


def write_record(data: Path, kind: str, record: dict[str, Any]) -> Path:
    """Store one run record; returns its path."""
    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r} (known: {', '.join(KINDS)})")
    private_folder(Path(data))
    folder = runs_dir(data)
    private_folder(folder)
    stamp = datetime.now(UTC).strftime(_STAMP)
    path = folder / f"{kind}-{stamp}-{os.getpid()}.json"
    write_atomically(path, json.dumps({"kind": kind, "finished": stamp, **record}, indent=2))
    return path


def read_records(data: Path, kind: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest `limit` records of `kind`, newest first; unreadable files are skipped."""
    records = []
    for path in sorted(runs_dir(data).glob(f"{kind}-*.json"), reverse=True)[:limit]:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(record, dict):
            stamp = path.stem.removeprefix(f"{kind}-").split("-")[0]
            records.append({"finished": stamp, **record, "file": path.name})
    return records
