"""A thread-safe `{name: JSON object}` map kept in one JSON file, rewritten atomically on change."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from es_rag.engine.storage.state import write_atomically


class PersistedJson:
    """Entries survive a restart: every change is written to a temp file, fsynced, then renamed."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._entries: dict[str, Any] = {}
        if self.path.exists():
            try:
                self._entries = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{self.path} is not valid JSON ({exc}); restore it from a "
                                 "backup or delete it to start empty") from exc

    def snapshot(self) -> dict[str, Any]:
        """A shallow copy of all entries, in insertion order."""
        with self._lock:
            return dict(self._entries)

    def get(self, name: str) -> Any:
        """The entry called `name`, or None."""
        with self._lock:
            return self._entries.get(name)

    @contextmanager
    def changing(self) -> Iterator[dict[str, Any]]:
        """Hold the lock, let the caller edit the entries, then persist them."""
        with self._lock:
            yield self._entries
            self._write()

    def _write(self) -> None:
        write_atomically(self.path, json.dumps(self._entries, ensure_ascii=False))
