"""LanceDB as the peer reference: the same chunks, vectors and hybrid RRF query as the engine."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# lance logs one deprecation warning per query at its default level
os.environ.setdefault("LANCEDB_LOG", "error")

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, HnswSq
from lancedb.query import MultiMatchQuery
from lancedb.rerankers import RRFReranker
from scifact_corpus import BenchCorpus

TABLE = "chunks"
VECTOR_INDEX = "IVF_HNSW_SQ (1 partition, m=16, ef_construction=100, cosine), ef=100 at query"
"""LanceDB's HNSW with 8-bit scalar quantisation: the closest match to ES's int8_hnsw."""


@dataclass(frozen=True)
class LanceHybrid:
    """A built LanceDB table and how long building it took."""

    table: lancedb.table.Table
    build_s: float

    def hybrid_ids(self, text: str, vector: np.ndarray, boosts: dict[str, float], window: int,
                   k: int) -> list[str]:
        """Top-k chunk ids of a hybrid search (multi-match over the boosted fields, and the
        vector's top `window`), each leg's top `window` fused by LanceDB's RRF reranker (K=60)."""
        query = MultiMatchQuery(text, list(boosts), boosts=list(boosts.values()))
        rows = (
            self.table.search(query_type="hybrid", vector_column_name="vector")
            .vector(vector)
            .text(query)
            .ef(window)
            .limit(window)
            .rerank(RRFReranker(K=60))
            .select(["chunk_id", "title", "text"])
            .to_arrow()
        )
        return rows["chunk_id"].to_pylist()[:k]

    def knn_ids(self, vector: np.ndarray, candidates: int, k: int) -> list[str]:
        """Top-k chunk ids of LanceDB's vector search alone."""
        rows = (
            self.table.search(vector, vector_column_name="vector")
            .distance_type("cosine")
            .ef(candidates)
            .limit(k)
            .select(["chunk_id"])
            .to_arrow()
        )
        return rows["chunk_id"].to_pylist()


def build_lancedb(
    corpus: BenchCorpus, directory: Path, progress: Callable[[str], None]
) -> LanceHybrid:
    """Write the corpus to a LanceDB table with FTS indexes on title and text and an HNSW index."""
    started = time.perf_counter()
    db = lancedb.connect(str(directory))
    dims = corpus.vectors.shape[1]
    table = pa.table(
        {
            "chunk_id": [c.chunk_id for c in corpus.chunks],
            "title": [c.title for c in corpus.chunks],
            "text": [c.text for c in corpus.chunks],
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(corpus.vectors.reshape(-1), type=pa.float32()), dims
            ),
        }
    )
    lance_table = db.create_table(TABLE, table, mode="overwrite")
    progress("LanceDB: building FTS indexes on title and text")
    for column in ("title", "text"):
        lance_table.create_index(column, config=FTS())
    progress(f"LanceDB: building the vector index {VECTOR_INDEX}")
    lance_table.create_index(
        "vector",
        config=HnswSq(distance_type="cosine", num_partitions=1, m=16, ef_construction=100),
    )
    return LanceHybrid(lance_table, time.perf_counter() - started)
