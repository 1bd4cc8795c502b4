"""The durable store of one index: `_source`, `_seq_no`, `_version` per id, in SQLite (WAL).

A write is acknowledged only after its transaction is committed with `synchronous=FULL`, so an
acknowledged document survives `kill -9`. Every write gets a new `_seq_no`, which is also the key
of that document version in the full-text and vector indexes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


@dataclass
class StoredDoc:
    """One live document as stored."""

    id: str
    seq_no: int
    version: int
    primary_term: int
    source: bytes
    routing: str | None = None

    def source_json(self) -> dict:
        return orjson.loads(self.source)


@dataclass
class Tombstone:
    """What is left of a deleted document: its last version and the `_seq_no` of the delete."""

    id: str
    seq_no: int
    version: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    id TEXT PRIMARY KEY, seq_no INTEGER NOT NULL UNIQUE, version INTEGER NOT NULL,
    primary_term INTEGER NOT NULL, routing TEXT, source BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones (
    id TEXT PRIMARY KEY, seq_no INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""
_COLS = "id, seq_no, version, primary_term, source, routing"


class DocStore:
    """SQLite-backed document store; writes are serialized, reads use per-thread connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._write = self._connect()
        self._write.executescript(_SCHEMA)
        row = self._write.execute("SELECT value FROM meta WHERE key='max_seq_no'").fetchone()
        self.max_seq_no = row[0] if row else -1
        self._has_tombstones = self._write.execute(
            "SELECT 1 FROM tombstones LIMIT 1").fetchone() is not None
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.path, check_same_thread=False,
                                                      isolation_level=None)
        return conn

    def get(self, doc_id: str) -> StoredDoc | None:
        """The live document with this id, read in real time."""
        row = self._reader().execute(f"SELECT {_COLS} FROM docs WHERE id=?", (doc_id,)).fetchone()
        return StoredDoc(*row) if row else None

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
        return {row[1]: StoredDoc(*row)
                for row in self._rows_in(f"SELECT {_COLS} FROM docs", "seq_no", seq_nos)}

    def by_ids(self, ids: Iterable[str]) -> dict[str, StoredDoc]:
        """Live documents by id."""
        return {row[0]: StoredDoc(*row)
                for row in self._rows_in(f"SELECT {_COLS} FROM docs", "id", ids)}

    def tombstones(self, ids: Iterable[str]) -> dict[str, Tombstone]:
        """Tombstones of deleted ids."""
        return {row[0]: Tombstone(*row) for row in self._rows_in(
            "SELECT id, seq_no, version FROM tombstones", "id", ids)}

    def since(self, seq_no: int) -> Iterator[StoredDoc]:
        """Live documents written after `seq_no`, in order (replayed into the indexes on open)."""
        cur = self._reader().execute(
            f"SELECT {_COLS} FROM docs WHERE seq_no > ? ORDER BY seq_no", (seq_no,))
        for row in cur:
            yield StoredDoc(*row)

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
        conn = self._write
        conn.execute("BEGIN IMMEDIATE")
        try:
            # consecutive runs of the same kind go through one executemany each
            start = 0
            while start < len(ops):
                kind = type(ops[start])
                end = start
                while end < len(ops) and type(ops[end]) is kind:
                    end += 1
                run = ops[start:end]
                if kind is Tombstone:
                    conn.executemany("DELETE FROM docs WHERE id=?", [(t.id,) for t in run])
                    conn.executemany("INSERT OR REPLACE INTO tombstones VALUES (?, ?, ?)",
                                     [(t.id, t.seq_no, t.version) for t in run])
                else:
                    if self._has_tombstones:
                        conn.executemany("DELETE FROM tombstones WHERE id=?",
                                         [(d.id,) for d in run])
                    conn.executemany(
                        "INSERT OR REPLACE INTO docs (id, seq_no, version, primary_term, "
                        "routing, source) VALUES (?, ?, ?, ?, ?, ?)",
                        [(d.id, d.seq_no, d.version, d.primary_term, d.routing, d.source)
                         for d in run])
                start = end
            if any(isinstance(op, Tombstone) for op in ops):
                self._has_tombstones = True
            top = max(op.seq_no for op in ops)
            self.max_seq_no = max(self.max_seq_no, top)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('max_seq_no', ?)",
                         (self.max_seq_no,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

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
