"""Vector indexes for `dense_vector` fields: hnswlib HNSW graphs, with exact search where needed.

Labels are document-version keys (`_seq_no`). Adds and deletes are buffered until refresh. At
refresh new vectors become visible at once in a staging matrix searched exactly (one matrix
product), and a background builder moves them into the HNSW graph, so neither bulk requests nor
refresh wait for graph construction; the builder uses every core once writes have stopped for
a moment. As Lucene does, a filter that admits few documents is answered by exact search over
those documents.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

_SPACES = {"cosine": "cosine", "dot_product": "ip", "max_inner_product": "ip", "l2_norm": "l2"}
EXACT_LIMIT = 4000
BUILD_BATCH = 256
WRITES_QUIET_AFTER = 1.0
"""Seconds without new vectors after which the graph builder uses every core."""


def score_from_distance(similarity: str, distance: np.ndarray) -> np.ndarray:
    """Elasticsearch's `_score` for hnswlib distances."""
    if similarity in ("cosine", "dot_product"):
        return np.maximum((2.0 - distance) / 2.0, 0.0)
    if similarity == "l2_norm":
        return 1.0 / (1.0 + distance)
    dot = 1.0 - distance
    return np.where(dot < 0, 1.0 / (1.0 - dot), dot + 1.0)


def distance_limit(similarity: str, threshold: float) -> float:
    """The hnswlib distance matching a knn `similarity` threshold (as ES defines it per metric)."""
    if similarity in ("cosine", "dot_product", "max_inner_product"):
        return 1.0 - threshold
    return threshold * threshold


def _distances(similarity: str, data: np.ndarray, query: np.ndarray,
               norms: np.ndarray | None = None) -> np.ndarray:
    """hnswlib-style distances from `query` to each row of `data` (cosine: with the rows'
    `norms`, computed when not given)."""
    if similarity == "l2_norm":
        out = np.empty(len(data), dtype=np.float32)
        for start in range(0, len(data), 4096):  # bounded temporaries
            block = data[start:start + 4096] - query
            out[start:start + 4096] = np.einsum("ij,ij->i", block, block)
        return out
    dots = data @ query
    if similarity == "cosine":
        norms = np.linalg.norm(data, axis=1) if norms is None else norms
        safe = np.where(norms == 0, 1.0, norms)
        return 1.0 - dots / (safe * max(float(np.linalg.norm(query)), 1e-30))
    return 1.0 - dots


class _Staging:
    """Visible vectors not yet in the HNSW graph, as rows of one matrix in `_seq_no` order.

    Rows `[head, count)` are staged; the builder adds them to the graph from `head` on. A row
    deleted while staged stays, marked dead, until the builder passes it."""

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.row_of: dict[int, int] = {}   # live staged key -> row
        self.head = self.count = 0
        self._allocate(0)

    def _allocate(self, capacity: int) -> None:
        """New (empty) arrays: rows a search still reads are never overwritten."""
        self.data = np.empty((capacity, self.dims), dtype=np.float32)
        self.keys = np.empty(capacity, dtype=np.int64)
        self.norms = np.empty(capacity, dtype=np.float32)
        self.alive = np.zeros(capacity, dtype=bool)

    def append(self, keys: list[int], vectors: list[np.ndarray]) -> None:
        n = len(keys)
        if self.count + n > len(self.keys):
            self._compact(n)
        rows = slice(self.count, self.count + n)
        np.stack(vectors, out=self.data[rows])
        self.keys[rows] = keys
        self.norms[rows] = np.linalg.norm(self.data[rows], axis=1)
        self.alive[rows] = True
        self.row_of.update(zip(keys, range(self.count, self.count + n), strict=True))
        self.count += n

    def _compact(self, extra: int) -> None:
        """Move the staged rows to the front of arrays with room for `extra` more."""
        staged = self.count - self.head
        rows = slice(self.head, self.count)
        old = self.data[rows], self.keys[rows], self.norms[rows], self.alive[rows]
        self._allocate(staged + extra + max(1024, (staged + extra) // 2))
        self.data[:staged], self.keys[:staged], self.norms[:staged], self.alive[:staged] = old
        self.row_of = {key: row - self.head for key, row in self.row_of.items()}
        self.head, self.count = 0, staged

    def discard(self, key: int) -> bool:
        """Mark a staged key dead; False if it is not staged."""
        row = self.row_of.pop(key, None)
        if row is None:
            return False
        self.alive[row] = False
        return True

    def next_batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the vectors and keys of the next rows for the graph."""
        rows = slice(self.head, min(self.head + size, self.count))
        return self.data[rows].copy(), self.keys[rows].copy()

    def built(self, size: int) -> list[int]:
        """The next `size` rows are in the graph now; returns their keys deleted meanwhile."""
        rows = slice(self.head, self.head + size)
        late = self.keys[rows][~self.alive[rows]].tolist()
        for key in self.keys[rows].tolist():
            self.row_of.pop(key, None)
        self.head += size
        if self.head == self.count:  # all in the graph: let the matrix go
            self.head = self.count = 0
            self._allocate(0)
        return late

    def vectors(self, keys: list[int]) -> np.ndarray:
        """The staged vectors of `keys` (each must be staged)."""
        return self.data[np.fromiter((self.row_of[k] for k in keys), np.int64, len(keys))]

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Views of the staged rows (data, keys, norms, alive) for a search outside the lock:
        rows are never written again once appended (compaction makes new arrays)."""
        rows = slice(self.head, self.count)
        return self.data[rows], self.keys[rows], self.norms[rows], self.alive[rows].copy()


class VectorField:
    """The vectors of one dense_vector field of one index."""

    def __init__(self, root: Path, path: str, params: dict[str, Any]) -> None:
        self.path = path
        self.dims = int(params["dims"])
        self.similarity = params.get("similarity", "cosine")
        options = params.get("index_options") or {}
        self.exact_only = str(options.get("type", "hnsw")).endswith("flat") or \
            params.get("index") is False
        self.m = int(options.get("m", 16))
        self.ef_construction = int(options.get("ef_construction", 100))
        self._file = root / f"{path}.hnsw"
        self._state = root / f"{path}.json"
        self._lock = threading.Lock()          # visible state: live, staging
        self._build_lock = threading.Lock()    # graph writes (add, resize, save)
        self._query_lock = threading.Lock()    # graph queries and resizes
        self.pending_add: dict[int, np.ndarray] = {}
        self.pending_delete: set[int] = set()
        self.staging = _Staging(self.dims)
        self._last_add = 0.0
        self._deferred_deletes: set[int] = set()
        self.index = hnswlib.Index(space=_SPACES[self.similarity], dim=self.dims)
        self.checkpoint = -1
        self.live: set[int] = set()
        # small fields are searched exactly from one dense copy, rebuilt after a refresh
        self._version = 0
        self._dense: tuple[int, dict[int, int], np.ndarray] | None = None
        if self._file.exists() and self._state.exists():
            state = json.loads(self._state.read_text())
            self.index.load_index(str(self._file), max_elements=max(state["capacity"], 1024))
            self.checkpoint = state["checkpoint"]
            self.live = {int(x) for x in state["live"]}
        else:
            self.index.init_index(max_elements=1024, M=self.m,
                                  ef_construction=self.ef_construction)
        self.saved_checkpoint = self.checkpoint
        self._wake = threading.Event()
        self._stop = False
        self._builder = threading.Thread(target=self._build_loop, daemon=True,
                                         name=f"hnsw-{path}")
        self._builder.start()

    # -- writes (called with the shard lock held) --------------------------------------------
    def add(self, key: int, vector: np.ndarray) -> None:
        """Buffer a vector for the next refresh."""
        self.pending_add[key] = vector
        self._last_add = time.monotonic()

    def delete(self, key: int) -> None:
        """Buffer a delete for the next refresh."""
        if self.pending_add.pop(key, None) is None:
            self.pending_delete.add(key)

    def refresh(self, checkpoint: int) -> None:
        """Make buffered adds and deletes visible; the graph catches up in the background."""
        with self._lock:
            adds, self.pending_add = self.pending_add, {}
            deletes, self.pending_delete = self.pending_delete, set()
            for key in deletes:
                if key not in self.live:
                    continue
                self.live.discard(key)
                if not self.staging.discard(key):
                    self._deferred_deletes.add(key)
            if adds:
                self.staging.append(list(adds), list(adds.values()))
            self.live.update(adds)
            self.checkpoint = checkpoint
            if adds or deletes:
                self._version += 1
        if adds or deletes:
            self._wake.set()

    # -- background graph construction ----------------------------------------------------------
    def _build_loop(self) -> None:
        while not self._stop:
            self._wake.wait(1.0)
            self._wake.clear()
            while not self._stop and self.build_some():
                pass

    def build_some(self) -> bool:
        """Move one batch of staged vectors into the graph; True if more remain."""
        with self._build_lock:
            with self._lock:
                deletes, self._deferred_deletes = self._deferred_deletes, set()
                batch, labels = self.staging.next_batch(BUILD_BATCH)
            for key in deletes:
                with contextlib.suppress(RuntimeError):  # a key that never reached the graph
                    self.index.mark_deleted(key)
            if len(labels):
                needed = self.index.get_current_count() + len(labels)
                if needed > self.index.get_max_elements():
                    with self._query_lock:
                        self.index.resize_index(max(needed, self.index.get_max_elements() * 2))
                quiet = time.monotonic() - self._last_add >= WRITES_QUIET_AFTER
                self.index.add_items(batch, labels, num_threads=-1 if quiet else 1)
                with self._lock:
                    late = self.staging.built(len(labels))
                for key in late:  # deleted while being added
                    self.index.mark_deleted(key)
            with self._lock:
                return self.staging.count > self.staging.head

    # -- search -------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, num_candidates: int,
               allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """Top-k (key, score) pairs among `allowed` keys (all visible keys when None)."""
        if len(query) != self.dims:
            raise ValueError(f"the query vector has a different number of dimensions "
                             f"[{len(query)}] than the document vectors [{self.dims}]")
        query = np.asarray(query, dtype=np.float32)
        with self._lock:
            candidates = self.live if allowed is None else (allowed & self.live)
            if not candidates or k <= 0:
                return []
            exact = self.exact_only or len(candidates) <= max(EXACT_LIMIT, num_candidates)
            if exact:
                keys = list(candidates)
            else:
                staged = self.staging.snapshot()
                staged_count = len(self.staging.row_of)
        if exact:
            return self._exact(query, k, keys)
        pairs = self._exact_staged(query, k, staged, allowed)
        graph_count = len(candidates) - (staged_count if allowed is None else len(pairs))
        if graph_count > 0:
            ef = max(num_candidates, k)
            flt = None if allowed is None else candidates.__contains__
            try:
                with self._query_lock:
                    self.index.set_ef(ef)
                    labels, dist = self.index.knn_query(query, k=min(ef, graph_count),
                                                        filter=flt)
            except RuntimeError:
                return self._exact(query, k, list(candidates))
            scores = score_from_distance(self.similarity, dist[0])
            live = self.live
            pairs += [(key, float(s)) for key, s in zip(labels[0].tolist(), scores, strict=True)
                      if key in live]
        best: dict[int, float] = {}
        for key, score in pairs:
            if score > best.get(key, -1.0):
                best[key] = score
        return sorted(best.items(), key=lambda p: (-p[1], p[0]))[:k]

    def exact(self, query: np.ndarray, keys: list[int]) -> list[tuple[int, float]]:
        """(key, score) of each visible key of `keys`, best first (exact scores)."""
        with self._lock:
            keys = [key for key in keys if key in self.live]
        return self._exact(np.asarray(query, dtype=np.float32), len(keys), keys) if keys else []

    def live_keys(self) -> set[int]:
        """A copy of the visible keys."""
        with self._lock:
            return set(self.live)

    def _exact_staged(self, query: np.ndarray, k: int,
                      staged: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                      allowed: set[int] | None) -> list[tuple[int, float]]:
        """(key, score) of staged vectors: the top k of them when `allowed` is None, else every
        allowed one (so that the caller can count them)."""
        data, keys, norms, alive = staged
        if not len(keys):
            return []
        if allowed is not None:
            alive &= np.fromiter((key in allowed for key in keys.tolist()), bool, len(keys))
            rows = np.flatnonzero(alive)
            distances = _distances(self.similarity, data[rows], query, norms[rows])
            return list(zip(keys[rows].tolist(),
                            score_from_distance(self.similarity, distances).tolist(), strict=True))
        scores = score_from_distance(self.similarity,
                                     _distances(self.similarity, data, query, norms))
        scores[~alive] = -1.0
        rows = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
        return [(key, score) for key, score in zip(keys[rows].tolist(), scores[rows].tolist(),
                                                    strict=True) if score >= 0.0]

    def vectors_of(self, keys: list[int]) -> dict[int, list[float]]:
        """The stored vectors of the documents `keys` (a key without a vector is left out)."""
        with self._lock:
            present = [key for key in keys if key in self.live]
        if not present:
            return {}
        data, order = self._dense_rows(present)
        return {int(key): row.tolist() for key, row in zip(order, data, strict=True)}

    def _dense_rows(self, keys: list[int]) -> tuple[np.ndarray, list[int]]:
        """The vectors of `keys` as one matrix, and the key of each row."""
        with self._lock:
            version, live_count = self._version, len(self.live)
            cached = self._dense
        if live_count <= EXACT_LIMIT:
            if cached is None or cached[0] != version:
                data, order = self._gather(sorted(self.live))
                cached = (version, {key: row for row, key in enumerate(order)}, data)
                with self._lock:
                    if self._version == version:
                        self._dense = cached
            _, row_of, data = cached
            if all(key in row_of for key in keys):
                rows = np.fromiter((row_of[key] for key in keys), dtype=np.int64,
                                   count=len(keys))
                return data[rows], keys
        return self._gather(keys)

    def _gather(self, keys: list[int]) -> tuple[np.ndarray, list[int]]:
        """Vectors of `keys`: staged ones from the staging matrix, the rest from the graph."""
        with self._lock:
            staging = self.staging
            staged = [key for key in keys if key in staging.row_of]
            staged_rows = staging.vectors(staged) if staged else None
        staged_set = set(staged)
        in_graph = [key for key in keys if key not in staged_set]
        rows = []
        if in_graph:
            rows.append(np.asarray(self.index.get_items(np.asarray(in_graph, dtype=np.int64),
                                                        return_type="numpy"), dtype=np.float32))
        if staged_rows is not None:
            rows.append(staged_rows)
        if not rows:
            return np.empty((0, self.dims), dtype=np.float32), []
        return np.concatenate(rows), in_graph + staged

    def _exact(self, query: np.ndarray, k: int, keys: list[int]) -> list[tuple[int, float]]:
        data, order = self._dense_rows(keys)
        if not order:
            return []
        scores = score_from_distance(self.similarity, _distances(self.similarity, data, query))
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(order[i]), float(scores[i])) for i in top]

    # -- persistence --------------------------------------------------------------------------
    def save(self) -> None:
        """Persist the graph with the checkpoint below which every vector is in it."""
        with self._build_lock:
            with self._lock:
                staging = self.staging
                checkpoint = int(staging.keys[staging.head]) - 1 \
                    if staging.count > staging.head else self.checkpoint
                live = sorted(self.live - set(staging.row_of))
            if checkpoint == self.saved_checkpoint:
                return
            tmp = self._file.with_suffix(".tmp")
            self.index.save_index(str(tmp))
            os.replace(tmp, self._file)
            state = {"checkpoint": checkpoint, "capacity": self.index.get_max_elements(),
                     "live": live}
            tmp_state = self._state.with_suffix(".jtmp")
            tmp_state.write_text(json.dumps(state))
            os.replace(tmp_state, self._state)
            self.saved_checkpoint = checkpoint

    def close(self) -> None:
        """Finish building the graph, stop the builder and save."""
        self._stop = True
        self._wake.set()
        self._builder.join(timeout=10)
        while self.build_some():
            pass
        self.save()

    def size_bytes(self) -> int:
        return self._file.stat().st_size if self._file.exists() else 0
