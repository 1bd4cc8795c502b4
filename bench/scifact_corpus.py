"""Benchmark corpus: SciFact passages repeated with variation to n chunks, real MiniLM vectors
blended and jittered to match, and SciFact queries embedded with the same model."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCIFACT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "scifact"
BASE_CHUNKS = 3000
"""Distinct passages really embedded; the other chunks are varied copies of them."""
BLEND_WEIGHT = (0.2, 0.6)
"""A copy's vector is its base passage's plus this much (uniform) of the passage it borrows a
sentence from: copies spread over the space real embeddings occupy instead of piling up as
near-duplicates, which no HNSW navigates well (recall ≈ 0.87 with plain jitter at 100k)."""
VECTOR_NOISE = 0.01
"""Per-dimension sigma of the Gaussian jitter added on top of the blend."""
WORD_DROP, WORD_REPLACE = 0.05, 0.05
CHUNK_WORDS = (40, 200)
_TARGET_WORDS = 150
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


@dataclass(frozen=True)
class Chunk:
    """One document to index: a (possibly varied) passage, the base passage it came from, and
    the base passage it borrowed a sentence from with the weight that one has in its vector."""

    chunk_id: str
    doc_id: str
    ordinal: int
    title: str
    text: str
    base: int
    borrowed: int | None = None
    borrowed_weight: float = 0.0

    def source(self) -> dict[str, object]:
        """The `_source` fields of this chunk, as mapped in mappings/chunks.json."""
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "ordinal": self.ordinal,
            "source": "scifact",
            "language": "en",
            "acl": ["public"],
            "title": self.title,
            "text": self.text,
        }


@dataclass(frozen=True)
class BenchCorpus:
    """n chunks with their unit vectors (row i belongs to chunks[i]) and the queries."""

    chunks: list[Chunk]
    vectors: np.ndarray
    queries: list[str]
    query_vectors: np.ndarray


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract, split after ., ! or ? followed by a capital or digit."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def chunk_passages(text: str) -> list[str]:
    """Group sentences into passages of about 150 words, each within 40–200 words."""
    low, high = CHUNK_WORDS
    groups: list[list[str]] = [[]]
    for sentence in split_sentences(text):
        words = sentence.split()[:high]
        if groups[-1] and len(groups[-1]) + len(words) > _TARGET_WORDS:
            groups.append([])
        groups[-1].extend(words)
    if len(groups) > 1 and len(groups[-1]) < low and len(groups[-2]) + len(groups[-1]) <= high:
        groups[-2].extend(groups.pop())
    return [" ".join(g) for g in groups if len(g) >= low]


def load_base_chunks(corpus_path: Path, limit: int, seed: int = 7) -> list[Chunk]:
    """Up to `limit` passages cut from the SciFact corpus, in a fixed shuffled order."""
    if not corpus_path.is_file():
        raise FileNotFoundError(f"SciFact corpus not found at {corpus_path}")
    chunks: list[Chunk] = []
    with corpus_path.open(encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            for ordinal, passage in enumerate(chunk_passages(doc["text"])):
                chunks.append(Chunk("", doc["_id"], ordinal, doc["title"], passage, 0))
    order = np.random.default_rng(seed).permutation(len(chunks))[:limit]
    return [
        Chunk(f"{c.doc_id}-{c.ordinal}-0", c.doc_id, c.ordinal, c.title, c.text, base)
        for base, c in enumerate(chunks[i] for i in order)
    ]


def vary_words(text: str, vocabulary: list[str], rng: np.random.Generator) -> str:
    """Drop about 5% of the words and replace about 5% with words drawn from the corpus."""
    words = text.split()
    roll = rng.random(len(words))
    picks = rng.integers(0, len(vocabulary), len(words))
    kept = [
        vocabulary[p] if r < WORD_REPLACE else w
        for w, r, p in zip(words, roll, picks, strict=True)
        if not WORD_REPLACE <= r < WORD_REPLACE + WORD_DROP
    ]
    return " ".join(kept or words)


def vary_chunk(base: Chunk, other: Chunk, copy: int, vocabulary: list[str],
               rng: np.random.Generator) -> Chunk:
    """Copy number `copy` of a base passage: its sentences shuffled with one sentence of `other`
    among them, about 10% of the words dropped or replaced, at most 200 words."""
    sentences = split_sentences(base.text)
    rng.shuffle(sentences)
    borrowed = split_sentences(other.text)
    sentences.insert(int(rng.integers(0, len(sentences) + 1)),
                     borrowed[int(rng.integers(0, len(borrowed)))])
    words = vary_words(" ".join(sentences), vocabulary, rng).split()[:CHUNK_WORDS[1]]
    title = vary_words(base.title, vocabulary, rng)
    weight = float(rng.uniform(*BLEND_WEIGHT))
    return Chunk(f"{base.doc_id}-{base.ordinal}-{copy}", base.doc_id, base.ordinal, title,
                 " ".join(words), base.base, other.base, weight)


def expand_chunks(bases: list[Chunk], n: int, seed: int = 11) -> list[Chunk]:
    """n chunks: each base passage once as is, then varied copies round-robin until n."""
    rng = np.random.default_rng(seed)
    vocabulary = sorted({w for b in bases for w in b.text.split() if w.isalpha()})
    chunks = bases[:n]
    copy = 1
    while len(chunks) < n:
        for index, base in enumerate(bases[: n - len(chunks)]):
            other = (index + int(rng.integers(1, len(bases)))) % len(bases)
            chunks.append(vary_chunk(base, bases[other], copy, vocabulary, rng))
        copy += 1
    return chunks


def chunk_vectors(base_vectors: np.ndarray, chunks: list[Chunk], seed: int = 13) -> np.ndarray:
    """Unit vectors, row i for chunks[i]: a base passage keeps its embedding; a copy gets its
    base's embedding plus `borrowed_weight` times the borrowed passage's, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    vectors = base_vectors[[c.base for c in chunks]].astype(np.float32)
    copies = np.array([i for i, c in enumerate(chunks) if c.borrowed is not None], dtype=np.int64)
    if len(copies):
        borrowed = base_vectors[[chunks[i].borrowed for i in copies]]
        weights = np.array([chunks[i].borrowed_weight for i in copies], dtype=np.float32)
        noise = rng.normal(0.0, VECTOR_NOISE, size=(len(copies), vectors.shape[1]))
        vectors[copies] += weights[:, None] * borrowed + noise.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def load_queries(queries_path: Path) -> list[str]:
    """All SciFact query texts, in file order."""
    if not queries_path.is_file():
        raise FileNotFoundError(f"SciFact queries not found at {queries_path}")
    with queries_path.open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines]


def embed_cached(texts: list[str], cache_dir: Path, kind: str) -> np.ndarray:
    """Unit MiniLM embeddings of `texts` (kind "passages" or "queries") with es-rag's Embedder,
    cached in a .npy named after a hash of the texts."""
    digest = hashlib.sha1("\x00".join(texts).encode()).hexdigest()[:12]
    path = cache_dir / f"minilm-{kind}-{len(texts)}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    from es_rag.embedding.local import Embedder

    print(f"embedding {len(texts)} {kind} with all-MiniLM-L6-v2 (cached in {path})",
          file=sys.stderr, flush=True)
    started = time.perf_counter()
    embedder = Embedder()
    if kind == "queries":
        vectors = [embedder.embed_query(text) for text in texts]
    else:
        vectors = embedder.embed_documents(texts)
    print(f"embedded {len(texts)} {kind} in {time.perf_counter() - started:.0f} s",
          file=sys.stderr, flush=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    array = np.asarray(vectors, dtype=np.float32)
    np.save(path, array)
    return array


def build_corpus(n: int, n_queries: int, cache_dir: Path) -> BenchCorpus:
    """The benchmark corpus of n chunks and n_queries queries; embeddings cached in cache_dir."""
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}")
    bases = load_base_chunks(SCIFACT_DIR / "corpus.jsonl", BASE_CHUNKS)
    base_vectors = embed_cached([f"{b.title}\n{b.text}" for b in bases], cache_dir, "passages")
    chunks = expand_chunks(bases, n)
    vectors = chunk_vectors(base_vectors, chunks)
    queries = load_queries(SCIFACT_DIR / "queries.jsonl")
    if not 1 <= n_queries <= len(queries):
        raise ValueError(f"--queries must be within 1..{len(queries)}, got {n_queries}")
    query_vectors = embed_cached(queries, cache_dir, "queries")
    return BenchCorpus(chunks, vectors, queries[:n_queries], query_vectors[:n_queries])
