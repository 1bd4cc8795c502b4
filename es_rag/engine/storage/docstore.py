"""The durable store of one index: `_source`, `_seq_no`, `_version` per id, in SQLite (WAL).

A write is acknowledged only after its transaction is committed with `synchronous=FULL`, so an
acknowledged document survives `kill -9`. Every write gets a new `_seq_no`, which is also the key
of that document version in the full-text and vector indexes.

Format 2 (`PRAGMA user_version`): one row per live document keyed by `_seq_no` (rows are
appended in order; a unique index finds them by id), `_source` packed by `source_codec` (vector
arrays as float32, given back byte for byte), 16 KiB pages. A format-1 store (rows keyed by id,
`_source` as sent) is migrated when opened; a store from a newer engine is refused.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .source_codec import pack, unpack


@dataclass(slots=True)
class StoredDoc:
    """One live document as stored."""

    id: str
    seq_no: int
    version: int
    primary_term: int
    source: bytes
    routing: str | None = None
    vectors: dict[str, np.ndarray] | None = field(default=None, compare=False, repr=False)
    """float32 values of the document's dense_vector fields when known (written only): lets
    the store keep those arrays compactly."""

    def source_json(self) -> dict:
        return orjson.loads(self.source)


@dataclass(slots=True)
class Tombstone:
    """What is left of a deleted document: its last version and the `_seq_no` of the delete."""

    id: str
    seq_no: int
    version: int


@dataclass(slots=True)
class DocVersion:
    """What a write needs to know of a live document: its `_seq_no`, `_version` and term."""

    id: str
    seq_no: int
    version: int
    primary_term: int


FORMAT = 2
"""The document store format this engine writes (`PRAGMA user_version`)."""
_DOCS = """CREATE TABLE docs (
    seq_no INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
    primary_term INTEGER NOT NULL, routing TEXT, source BLOB NOT NULL, vectors BLOB)"""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tombstones (
    id TEXT PRIMARY KEY, seq_no INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""
_COLS = "id, seq_no, version, primary_term, source, routing, vectors"


def _doc(row: tuple) -> StoredDoc:
    return StoredDoc(row[0], row[1], row[2], row[3], unpack(row[4], row[6]), row[5])


class DocStore:
    """SQLite-backed document store; writes are serialized, reads use per-thread connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        fresh = not path.exists() or path.stat().st_size == 0
        self._write = self._connect(page_size=16384 if fresh else None)
        self._open_format()
        self._write.executescript(_SCHEMA)
        row = self._write.execute("SELECT value FROM meta WHERE key='max_seq_no'").fetchone()
        self.max_seq_no = row[0] if row else -1
        self._has_tombstones = self._write.execute(
            "SELECT 1 FROM tombstones LIMIT 1").fetchone() is not None
        self._closed = False

    def _connect(self, page_size: int | None = None) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if page_size is not None:  # only before the first table (and WAL) exists
            conn.execute(f"PRAGMA page_size={page_size}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _open_format(self) -> None:
        """Create format 2, migrate format 1, or refuse a newer format."""
        conn = self._write
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > FORMAT:
            conn.close()
            raise ValueError(f"{self.path} was written by a newer engine (document store "
                             f"format {found}; this engine reads formats 1 to {FORMAT}): "
                             f"upgrade es-rag, or index into a new data directory")
        if found == FORMAT:
            return
        has_docs = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='docs'").fetchone()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if has_docs:  # format 1: WITHOUT ROWID rows keyed by id, source as sent
                conn.execute(_DOCS.replace("CREATE TABLE docs", "CREATE TABLE docs_v2"))
                conn.execute("INSERT INTO docs_v2 (seq_no, id, version, primary_term, routing, "
                             "source) SELECT seq_no, id, version, primary_term, routing, "
                             "source FROM docs ORDER BY seq_no")
                conn.execute("DROP TABLE docs")
                conn.execute("ALTER TABLE docs_v2 RENAME TO docs")
            else:
                conn.execute(_DOCS)
            conn.execute(f"PRAGMA user_version={FORMAT}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.path, check_same_thread=False,
                                                      isolation_level=None)
        return conn

    def get(self, doc_id: str) -> StoredDoc | None:
        """The live document with this id, read in real time."""
        row = self._reader().execute(f"SELECT {_COLS} FROM docs WHERE id=?", (doc_id,)).fetchone()
        return _doc(row) if row else None

    def _rows_in(self, select: str, column: str, keys: Iterable[Any]) -> Iterator[tuple]:
        """Rows of `SELECT {select} ... WHERE {column} IN keys`, in batches SQLite accepts."""
        keys = list(keys)
        conn = self._reader()
        for start in range(0, len(keys), 900):
            chunk = keys[start:start + 900]
            marks = ",".join("?" * len(chunk))
            yield from conn.execute(f"{select} WHERE {column} IN ({marks})", chunk)

    def by_seq_nos(self, seq_nos: Iterable[int]) -> dict[int, StoredDoc]:
        """Live documents by `_seq_no` (document versions that were superseded are absent)."""
        return {row[1]: _doc(row)
                for row in self._rows_in(f"SELECT {_COLS} FROM docs", "seq_no", seq_nos)}

    def by_ids(self, ids: Iterable[str]) -> dict[str, StoredDoc]:
        """Live documents by id."""
        return {row[0]: _doc(row) for row in self._rows_in(f"SELECT {_COLS} FROM docs", "id", ids)}

    def versions(self, ids: Iterable[str]) -> dict[str, DocVersion]:
        """`_seq_no`, `_version` and term of live documents by id, without their `_source`."""
        return {row[0]: DocVersion(*row) for row in self._rows_in(
            "SELECT id, seq_no, version, primary_term FROM docs", "id", ids)}

    def tombstones(self, ids: Iterable[str]) -> dict[str, Tombstone]:
        """Tombstones of deleted ids."""
        return {row[0]: Tombstone(*row) for row in self._rows_in(
            "SELECT id, seq_no, version FROM tombstones", "id", ids)}

    def since(self, seq_no: int) -> Iterator[StoredDoc]:
        """Live documents written after `seq_no`, in order (replayed into the indexes on open)."""
        cur = self._reader().execute(
            f"SELECT {_COLS} FROM docs WHERE seq_no > ? ORDER BY seq_no", (seq_no,))
        for row in cur:
            yield _doc(row)

    def deleted_since(self, seq_no: int) -> list[Tombstone]:
        """Deletes after `seq_no`."""
        rows = self._reader().execute(
            "SELECT id, seq_no, version FROM tombstones WHERE seq_no > ?", (seq_no,)).fetchall()
        return [Tombstone(*row) for row in rows]

    def all_seq_nos(self) -> list[int]:
        """`_seq_no` of every live document."""
        return [r[0] for r in self._reader().execute("SELECT seq_no FROM docs")]

    def count(self) -> int:
        return self._reader().execute("SELECT count(*) FROM docs").fetchone()[0]

    def apply(self, ops: list[StoredDoc | Tombstone]) -> None:
        """Commit a batch of writes, in `_seq_no` order, durably in one transaction (one fsync)."""
        if not ops:
            return
        # consecutive runs of the same kind go through one executemany each
        runs: list[tuple[type, list]] = []
        for op in ops:
            if not runs or runs[-1][0] is not type(op):
                runs.append((type(op), []))
            runs[-1][1].append(op)
        rows = [[(d.id, d.seq_no, d.version, d.primary_term, d.routing,
                  *(pack(d.source, d.vectors) if d.vectors else (d.source, None)))
                 for d in run] if kind is StoredDoc else None for kind, run in runs]
        conn = self._write
        conn.execute("BEGIN IMMEDIATE")
        try:
            for (kind, run), docs in zip(runs, rows, strict=True):
                if kind is Tombstone:
                    conn.executemany("DELETE FROM docs WHERE id=?", [(t.id,) for t in run])
                    conn.executemany("INSERT OR REPLACE INTO tombstones VALUES (?, ?, ?)",
                                     [(t.id, t.seq_no, t.version) for t in run])
                    continue
                if self._has_tombstones:
                    conn.executemany("DELETE FROM tombstones WHERE id=?", [(d.id,) for d in run])
                conn.executemany("INSERT OR REPLACE INTO docs (id, seq_no, version, primary_term, "
                                 "routing, source, vectors) VALUES (?, ?, ?, ?, ?, ?, ?)", docs)
            top = max(self.max_seq_no, max(op.seq_no for op in ops))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('max_seq_no', ?)", (top,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.max_seq_no = top
        if any(kind is Tombstone for kind, _ in runs):
            self._has_tombstones = True

    def size_bytes(self) -> int:
        """Bytes on disk of the database and its WAL."""
        total = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._write.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._write.close()
