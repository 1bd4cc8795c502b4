"""The engine's data directory is private to the user running it: folders 0700, files 0600.

`make_private` creates the directory that way and tightens one made before (every folder and
file in it); `restrict_umask` makes the engine process create everything else privately too
(SQLite's WAL and shared-memory files, tantivy segments, HNSW graphs, model parts, logs).
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def private_folder(path: Path) -> None:
    """Create the folder `path` (0700), or make an existing one 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def make_private(data_dir: Path) -> None:
    """Create `data_dir` (0700), or tighten an existing one: folders 0700, files 0600.

    Symbolic links are left alone (neither followed nor changed).
    """
    private_folder(data_dir)
    for root, folders, files in os.walk(data_dir):
        for name, mode in [(n, DIR_MODE) for n in folders] + [(n, FILE_MODE) for n in files]:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, mode)


def restrict_umask() -> None:
    """Have this process create files 0600 and folders 0700 (call once, at process start)."""
    os.umask(PRIVATE_UMASK)


def open_private(path: Path, flags: int) -> int:
    """`os.open` a file that only its owner may read or write, whatever the umask; tightens a
    file that exists already."""
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd
