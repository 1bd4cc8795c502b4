"""Vector indexes for `dense_vector` fields: hnswlib HNSW graphs, with exact search where needed.

Labels are document-version keys (`_seq_no`). Adds and deletes are buffered until refresh. At
refresh new vectors become visible at once in a staging area searched exactly (brute force),
and a background builder moves them into the HNSW graph, so neither bulk requests nor refresh
wait for graph construction. As Lucene does, a filter that admits few documents is answered by
exact search over those documents.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

_SPACES = {"cosine": "cosine", "dot_product": "ip", "max_inner_product": "ip", "l2_norm": "l2"}
EXACT_LIMIT = 4000
BUILD_BATCH = 256


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
        self._lock = threading.Lock()          # visible state: live, staged, building
        self._build_lock = threading.Lock()    # graph writes (add, resize, save)
        self._query_lock = threading.Lock()    # graph queries and resizes
        self.pending_add: dict[int, np.ndarray] = {}
        self.pending_delete: set[int] = set()
        self.staged: dict[int, np.ndarray] = {}
        self.building: dict[int, np.ndarray] = {}
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
                if self.staged.pop(key, None) is None:
                    self._deferred_deletes.add(key)
            self.staged.update(adds)
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
                batch = dict(itertools.islice(self.staged.items(), BUILD_BATCH))
                for key in batch:
                    del self.staged[key]
                self.building = batch
            for key in deletes:
                with contextlib.suppress(RuntimeError):  # a key that never reached the graph
                    self.index.mark_deleted(key)
            if batch:
                needed = self.index.get_current_count() + len(batch)
                if needed > self.index.get_max_elements():
                    with self._query_lock:
                        self.index.resize_index(max(needed, self.index.get_max_elements() * 2))
                labels = np.fromiter(batch.keys(), dtype=np.int64, count=len(batch))
                self.index.add_items(np.stack(list(batch.values())), labels)
                with self._lock:
                    self.building = {}
                    late = [k for k in batch if k not in self.live]
                for key in late:  # deleted while being added
                    self.index.mark_deleted(key)
            with self._lock:
                return bool(self.staged)

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
            fresh = {**self.staged, **self.building}
            exact = self.exact_only or len(candidates) <= max(EXACT_LIMIT, num_candidates)
            if exact:
                keys = list(candidates) if allowed is not None else list(self.live)
            else:
                keys = [key for key in fresh if allowed is None or key in allowed]
                graph_count = len(candidates) - len(keys)
        if exact:
            return self._exact(query, k, keys, fresh)
        pairs = self._exact(query, k, keys, fresh) if keys else []
        if graph_count > 0:
            ef = max(num_candidates, k)
            flt = None if allowed is None else candidates.__contains__
            try:
                with self._query_lock:
                    self.index.set_ef(ef)
                    labels, dist = self.index.knn_query(query, k=min(ef, graph_count),
                                                        filter=flt)
            except RuntimeError:
                return self._exact(query, k, list(candidates), fresh)
            scores = score_from_distance(self.similarity, dist[0])
            pairs += [(int(key), float(s)) for key, s in zip(labels[0], scores, strict=True)
                      if key not in fresh]
        best: dict[int, float] = {}
        for key, score in pairs:
            if score > best.get(key, -1.0):
                best[key] = score
        return sorted(best.items(), key=lambda p: (-p[1], p[0]))[:k]

    def _dense_rows(self, keys: list[int], fresh: dict[int, np.ndarray]
                    ) -> tuple[np.ndarray, list[int]]:
        """The vectors of `keys` as one matrix, and the key of each row."""
        with self._lock:
            version, live_count = self._version, len(self.live)
            cached = self._dense
        if live_count <= EXACT_LIMIT:
            if cached is None or cached[0] != version:
                everything = sorted(self.live)
                data, order = self._gather(everything, fresh)
                cached = (version, {key: row for row, key in enumerate(order)}, data)
                with self._lock:
                    if self._version == version:
                        self._dense = cached
            _, row_of, data = cached
            if all(key in row_of for key in keys):
                rows = np.fromiter((row_of[key] for key in keys), dtype=np.int64,
                                   count=len(keys))
                return data[rows], keys
        return self._gather(keys, fresh)

    def _gather(self, keys: list[int], fresh: dict[int, np.ndarray]
                ) -> tuple[np.ndarray, list[int]]:
        """Vectors of `keys`: staged ones from memory, the rest read back from the graph."""
        in_graph = [key for key in keys if key not in fresh]
        rows = []
        if in_graph:
            rows.append(np.asarray(self.index.get_items(np.asarray(in_graph, dtype=np.int64),
                                                        return_type="numpy"), dtype=np.float32))
        staged = [key for key in keys if key in fresh]
        if staged:
            rows.append(np.stack([fresh[key] for key in staged]).astype(np.float32))
        if not rows:
            return np.empty((0, self.dims), dtype=np.float32), []
        return np.concatenate(rows), in_graph + staged

    def _exact(self, query: np.ndarray, k: int, keys: list[int],
               fresh: dict[int, np.ndarray]) -> list[tuple[int, float]]:
        data, order = self._dense_rows(keys, fresh)
        if not order:
            return []
        if self.similarity == "l2_norm":
            dist = ((data - query) ** 2).sum(axis=1)
        elif self.similarity == "cosine":
            norms = np.linalg.norm(data, axis=1)
            norms[norms == 0] = 1.0
            dist = 1.0 - (data @ query) / (norms * max(float(np.linalg.norm(query)), 1e-30))
        else:
            dist = 1.0 - data @ query
        scores = score_from_distance(self.similarity, dist)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(order[i]), float(scores[i])) for i in top]

    # -- persistence --------------------------------------------------------------------------
    def save(self) -> None:
        """Persist the graph with the checkpoint below which every vector is in it."""
        with self._build_lock:
            with self._lock:
                checkpoint = min(self.staged) - 1 if self.staged else self.checkpoint
                live = sorted(self.live - set(self.staged))
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
