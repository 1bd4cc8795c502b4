"""Index a BEIR corpus into its own chunk index for evaluation, reused while nothing changed.

Each corpus document becomes chunks (ingestion's `Chunker`, model tokenizer) with
`doc_id` = the corpus id; chunks embed "title + text" as BEIR's dense baselines do. The index's
`_meta` records a fingerprint (corpus file digest, document subset, model, chunking) and the
chunk count, so a second run with the same inputs reuses the index without embedding anything.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from elasticsearch import ApiError, Elasticsearch, helpers

from es_rag.errors import EsRagError
from es_rag.evaluate.judgments import CorpusDoc
from es_rag.finetune.manifest import recorded_manifest
from es_rag.ingest.chunk import Chunker, chunk_id, content_hash, tokenizer_spans
from es_rag.ingest.parse import ParsedDocument

Progress = Callable[[str, int, int], None]
"""Called as `progress(stage, done, total)` while a corpus is chunked, embedded and indexed."""

RECIPE = "beir-chunks-v1"  # bump when what is indexed per chunk changes
EMBED_BATCH = 64


class PassageEmbedder(Protocol):
    """What indexing needs from the embedding model (`es_rag.embedding.local.Embedder` fits)."""

    model_name: str

    @property
    def tokenizer(self) -> Any: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...


class CorpusIndexError(EsRagError, RuntimeError):
    """The evaluation index could not be built; the message names the index and the reason."""


@dataclass(frozen=True)
class CorpusIndex:
    """The index an evaluation searches, and whether this run built it or reused it."""

    name: str
    fingerprint: str
    documents: int
    chunks: int
    reused: bool
    seconds: float = 0.0


def corpus_digest(path: Path) -> str:
    """SHA-256 of the corpus file's bytes (a changed corpus means a new index)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_identity(model: str) -> str:
    """The embedding model as the vectors depend on it: its name, with the checksum a fine-tuned
    model folder's manifest records (a model trained again into the same folder is another
    model, whose vectors the index must not keep)."""
    manifest = recorded_manifest(model)
    return model if manifest is None else f"{model}@{manifest.get('checksum', '')}"


def fingerprint(corpus_sha: str, doc_ids: Sequence[str], model: str, chunk_size: int,
                overlap: int) -> str:
    """What the index content depends on, as one hex digest."""
    spec = {"recipe": RECIPE, "corpus": corpus_sha, "model": model, "chunk_size": chunk_size,
            "overlap": overlap,
            "docs": hashlib.sha256("\n".join(doc_ids).encode()).hexdigest()}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]


def index_body(mapping_path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """The chunk index body from `mappings/chunks.json`, without a default pipeline, with `meta`.

    The evaluation index writes finished chunks itself, so it needs no ingest pipeline, and
    no `metadata.*` fields, so no dynamic templates; the mapped fields (analyzers, vector
    options) are the production index's, so scores are comparable.
    """
    body = json.loads(mapping_path.read_text(encoding="utf-8"))
    settings = {k: v for k, v in body.get("settings", {}).items()
                if k not in ("index.default_pipeline", "default_pipeline")}
    mappings = {k: v for k, v in body.get("mappings", {}).items() if k != "dynamic_templates"}
    mappings["_meta"] = {**mappings.get("_meta", {}), "es_rag_eval": meta}
    return {"settings": settings, "mappings": mappings}


@dataclass(frozen=True)
class _PendingChunk:
    doc: CorpusDoc
    ordinal: int
    text: str
    start: int
    end: int

    def source(self, vector: list[float]) -> dict[str, Any]:
        digest = content_hash(self.text)
        return {
            "chunk_id": chunk_id(self.doc.id, self.ordinal, digest),
            "doc_id": self.doc.id,
            "ordinal": self.ordinal,
            "source": f"beir:{self.doc.id}",
            "title": self.doc.title,
            "text": self.text,
            "offsets": {"start": self.start, "end": self.end},
            "content_hash": digest,
            "mime_type": "text/plain",
            "embedding": vector,
        }

    @property
    def embed_text(self) -> str:
        return f"{self.doc.title}\n{self.text}" if self.doc.title else self.text


def _chunks(docs: Iterable[CorpusDoc], chunker: Chunker) -> list[_PendingChunk]:
    pending: list[_PendingChunk] = []
    for doc in docs:
        text = doc.text if doc.text.strip() else doc.title
        for chunk in chunker.chunk(ParsedDocument(text=text, mime_type="text/plain")):
            pending.append(_PendingChunk(doc, chunk.ordinal, chunk.text, chunk.start, chunk.end))
    return pending


def _existing(client: Elasticsearch, index: str) -> dict[str, Any] | None:
    """The index's evaluation `_meta`, or None when it does not exist.

    An index that evaluation did not build is never touched: it may be serving applications.
    """
    if not client.indices.exists(index=index):
        return None
    mapping = client.indices.get_mapping(index=index).body
    if list(mapping) != [index]:
        raise CorpusIndexError(f"{index!r} is an alias or pattern ({', '.join(mapping)}); "
                               "evaluation needs an index of its own")
    meta = (mapping[index].get("mappings", {}).get("_meta") or {}).get("es_rag_eval")
    if not isinstance(meta, dict):
        raise CorpusIndexError(f"index {index!r} exists and was not built for evaluation; "
                               "name another index (or delete this one yourself)")
    return meta


def _actions(index: str, pending: list[_PendingChunk], embedder: PassageEmbedder,
             progress: Progress | None) -> Iterator[dict[str, Any]]:
    for start in range(0, len(pending), EMBED_BATCH):
        batch = pending[start:start + EMBED_BATCH]
        vectors = embedder.embed_documents([c.embed_text for c in batch])
        for item, vector in zip(batch, vectors, strict=True):
            source = item.source(vector)
            yield {"_index": index, "_id": source["chunk_id"], "_source": source}
        if progress:
            progress("embed", min(start + EMBED_BATCH, len(pending)), len(pending))


def ensure_corpus_index(client: Elasticsearch, index: str, docs: Sequence[CorpusDoc], *,
                        corpus_sha: str, embedder: PassageEmbedder, mapping_path: Path,
                        chunk_size: int = 256, overlap: int = 32,
                        progress: Progress | None = None) -> CorpusIndex:
    """Build `index` from `docs`, or reuse it when its fingerprint and chunk count match.

    An index left half-built (interrupted run) or built from other inputs is deleted and rebuilt.
    Raises CorpusIndexError naming the first chunks that failed to index.
    """
    started = time.perf_counter()
    doc_ids = [d.id for d in docs]
    wanted = fingerprint(corpus_sha, doc_ids, model_identity(embedder.model_name), chunk_size,
                         overlap)
    meta = _existing(client, index)
    if meta is not None and meta.get("fingerprint") == wanted:
        client.indices.refresh(index=index)
        count = int(client.count(index=index)["count"])
        if count == meta.get("chunks"):
            return CorpusIndex(index, wanted, len(docs), count, reused=True)
    if meta is not None:
        client.indices.delete(index=index)
    chunker = Chunker(chunk_size=chunk_size, overlap=overlap,
                      token_spans=tokenizer_spans(embedder.tokenizer))
    pending = _chunks(docs, chunker)
    if progress:
        progress("chunk", len(docs), len(docs))
    new_meta = {"fingerprint": wanted, "documents": len(docs), "chunks": len(pending),
                "model": embedder.model_name, "chunk_size": chunk_size, "overlap": overlap}
    try:
        client.indices.create(index=index, **index_body(mapping_path, new_meta))
    except ApiError as exc:
        raise CorpusIndexError(f"cannot create evaluation index {index!r}: {exc}") from None
    failed: list[str] = []
    for ok, item in helpers.streaming_bulk(client, _actions(index, pending, embedder, progress),
                                           chunk_size=256, raise_on_error=False,
                                           max_retries=3):
        if not ok:
            result = next(iter(item.values()))
            failed.append(f"{result.get('_id')}: {result.get('error')}")
    client.indices.refresh(index=index)
    if failed:
        raise CorpusIndexError(f"{len(failed)} chunks failed to index into {index!r} "
                               f"(first: {failed[0]})")
    return CorpusIndex(index, wanted, len(docs), len(pending), reused=False,
                       seconds=round(time.perf_counter() - started, 2))
