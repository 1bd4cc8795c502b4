"""Helpers for the evaluation tests: a tiny corpus and a fast, deterministic stand-in embedder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.evaluate import CorpusDoc, CorpusIndex, ensure_corpus_index

MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "chunks.json"
DOCS = [CorpusDoc("d1", "Vitamin D", "Vitamin D lowers the risk of falls in older adults."),
        CorpusDoc("d2", "Statins", "Statins reduce cholesterol. " * 40),
        CorpusDoc("d3", "", "A document without a title about sleep.")]


def _words(text: str, **_: Any) -> dict[str, list[tuple[int, int]]]:
    return {"offset_mapping": [m.span() for m in re.finditer(r"\S+", text)]}


class CountingEmbedder:
    """Deterministic 384-dim vectors from a hash, counting how many passages it embedded."""

    model_name = "test-hash-embedder"
    tokenizer = staticmethod(_words)

    def __init__(self) -> None:
        self.embedded = 0

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        seed = hashlib.sha256(text.encode()).digest()
        raw = [(seed[i % 32] - 127.5) / 127.5 + 0.01 for i in range(384)]
        norm = sum(v * v for v in raw) ** 0.5
        return [v / norm for v in raw]


@pytest.fixture
def new_embedder() -> type[CountingEmbedder]:
    """Call it for a fresh stand-in embedder (each counts its own passages)."""
    return CountingEmbedder


@pytest.fixture
def build_tiny(es: Elasticsearch) -> Callable[..., CorpusIndex]:
    """Builds the tiny corpus into `eval-tiny` with the given embedder."""

    def build(embedder: CountingEmbedder, chunk_size: int = 64, **kwargs: Any) -> CorpusIndex:
        return ensure_corpus_index(es, "eval-tiny", DOCS, corpus_sha="abc", embedder=embedder,
                                   mapping_path=MAPPING, chunk_size=chunk_size, overlap=8,
                                   **kwargs)

    return build
