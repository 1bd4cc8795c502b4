"""The persisted cluster state (indices, mappings, settings, aliases, license) as one JSON file,
and the atomic, durable file replacement every small engine file uses."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def load_state(path: Path) -> dict[str, Any]:
    """The saved state, or an empty one."""
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def write_atomically(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` (text as UTF-8) atomically and durably: a temp file in the
    same folder, fsync, rename, fsync of the folder. A crash leaves the old or the new file.
    The file is private (0600) unless `mode` says otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state atomically and durably."""
    write_atomically(path, json.dumps(state))
