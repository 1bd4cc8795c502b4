"""A thread-safe `{name: JSON object}` map kept in one JSON file, rewritten atomically on change."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._entries, handle, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
