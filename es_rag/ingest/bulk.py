"""Write chunks to the chunk index so that re-sync stays safe, and delete or prune documents.

Every chunk carries `doc_hash`. A document's chunks 1..n are written first, then the chunks its
previous version had and the new one lacks are deleted, and the chunk with ordinal 0 is written
last: it is the commit mark. A document whose run was interrupted or partly refused has no
current `doc_hash` on ordinal 0, so the next run redoes it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import (
    ApiError,
    AuthorizationException,
    Elasticsearch,
    NotFoundError,
    TransportError,
)
from elasticsearch.helpers import streaming_bulk

from es_rag.embedding.cluster import ClusterEmbedder
from es_rag.embedding.local import Embedder
from es_rag.embedding.semantic_text import SemanticTextEmbedder
from es_rag.errors import EsRagError
from es_rag.ingest.chunk import Chunk, chunk_id
from es_rag.ingest.discover import SourceFile
from es_rag.ingest.parse import ParsedDocument
from es_rag.ingest.report import IngestReport, Progress

LOOKUP_BATCH = 1000
_BULK_ACTIONS = 500


ChunkEmbedder = Embedder | ClusterEmbedder | SemanticTextEmbedder
"""Embeds chunks in es-rag (`Embedder`) or has the cluster embed them (`ClusterEmbedder`)."""


class IngestError(EsRagError, RuntimeError):
    """Ingest cannot start: the index or its pipeline is missing, or it does not fit the model."""


@dataclass
class PreparedDocument:
    """A parsed and chunked document, ready to embed and write."""

    file: SourceFile
    doc_hash: str
    parsed: ParsedDocument
    chunks: list[Chunk]
    acl: list[str] | None
    metadata: Mapping[str, Any]
    """The document's own metadata fields (author, dates, a corpus record's metadata)."""


def bulk_pipeline(embedder: ChunkEmbedder | None, pipeline: str | None) -> str | None:
    """The pipeline bulk requests name: the one asked for, else the cluster's embedding one."""
    if pipeline is None and isinstance(embedder, ClusterEmbedder):
        return embedder.pipeline
    return pipeline


def check_index(client: Elasticsearch, index: str, embedder: ChunkEmbedder | None,
                pipeline: str | None) -> None:
    """Refuse to start on an index that would refuse every chunk, before any work is done.

    That is a missing index, vectors of other dims than the model's, or a missing ingest
    pipeline (the one asked for, or the index's default or final pipeline). A check the
    credentials may not make (403) is skipped: the bulk responses will tell.
    """
    try:
        mappings = client.indices.get_mapping(index=index)
        settings = client.indices.get_settings(index=index)
    except NotFoundError:
        raise IngestError(f"index {index!r} does not exist: create it first "
                          "(`es-rag apply` creates the chunk index)") from None
    except AuthorizationException:
        return
    model_dims = embedder.dims if embedder is not None else None
    if model_dims is not None:
        for name, body in mappings.body.items():
            vector = body.get("mappings", {}).get("properties", {}).get("embedding", {})
            dims = vector.get("dims")
            if dims is not None and dims != model_dims:
                raise IngestError(f"index {name!r} holds {dims}-dim vectors but the embedding "
                                  f"model {embedder.model_name!r} makes {model_dims}-dim ones")
    for name, body in mappings.body.items():
        mapping = body.get("mappings", {})
        closed = str(mapping.get("dynamic", "true")).lower() in ("strict", "false")
        missing = {"source_name", "source_root"} - set(mapping.get("properties", {}))
        if closed and missing:
            raise IngestError(f"index {name!r} has no `{min(missing)}` field (its mapping "
                              "predates named sources): run `es-rag apply` to add it, then "
                              "ingest again")
    pipelines = {pipeline} if pipeline else set()
    for body in settings.body.values():
        configured = body.get("settings", {}).get("index", {})
        pipelines.update(configured.get(key) for key in ("default_pipeline", "final_pipeline"))
    for name in sorted(p for p in pipelines if p and p != "_none"):
        try:
            client.ingest.get_pipeline(id=name)
        except NotFoundError:
            raise IngestError(f"ingest pipeline {name!r} (used to index into {index!r}) does "
                              "not exist: create it first (`es-rag apply` creates it)") from None
        except AuthorizationException:
            continue


def indexed_hashes(client: Elasticsearch, index: str,
                   doc_ids: Sequence[str]) -> dict[str, str | None]:
    """The committed `doc_hash` of each of these documents that is in the index."""
    found: dict[str, str | None] = {}
    for first in range(0, len(doc_ids), LOOKUP_BATCH):
        ids = list(doc_ids[first:first + LOOKUP_BATCH])
        response = client.search(
            index=index, size=len(ids), source=["doc_id", "doc_hash"],
            query={"bool": {"filter": [{"terms": {"doc_id": ids}}, {"term": {"ordinal": 0}}]}})
        for hit in response["hits"]["hits"]:
            found[hit["_source"]["doc_id"]] = hit["_source"].get("doc_hash")
    return found


def index_counts(client: Elasticsearch, index: str) -> tuple[int, int]:
    """(chunks, documents) in `index`; a document counts once its ordinal-0 chunk is written."""
    chunks = int(client.count(index=index)["count"])
    documents = int(client.count(index=index, query={"term": {"ordinal": 0}})["count"])
    return chunks, documents


def delete_document(client: Elasticsearch, index: str, doc_id: str, *,
                    refresh: bool = True) -> int:
    """Delete every chunk of one document; returns how many chunks were deleted."""
    response = client.delete_by_query(index=index, query={"term": {"doc_id": doc_id}},
                                      conflicts="proceed", refresh=refresh)
    return int(response.get("deleted", 0))


def prune_documents(client: Elasticsearch, index: str, scope: dict[str, Any], keep: set[str],
                    report: IngestReport, progress: Progress | None) -> None:
    """Delete the documents matching the `scope` query whose id is not in `keep`."""
    gone: list[str] = []
    after: list[Any] | None = None
    while True:
        page = client.search(
            index=index, size=LOOKUP_BATCH, source=["doc_id"], sort=[{"doc_id": "asc"}],
            search_after=after, query={"bool": {"filter": [{"term": {"ordinal": 0}}, scope]}})
        hits = page["hits"]["hits"]
        if not hits:
            break
        gone.extend(h["_source"]["doc_id"] for h in hits if h["_source"]["doc_id"] not in keep)
        after = hits[-1]["sort"]
    for first in range(0, len(gone), LOOKUP_BATCH):
        ids = gone[first:first + LOOKUP_BATCH]
        response = client.delete_by_query(index=index, query={"terms": {"doc_id": ids}},
                                          conflicts="proceed", refresh=False)
        report.chunks_deleted += int(response.get("deleted", 0))
        report.files_pruned += len(ids)
        if progress:
            progress("prune", first + len(ids), len(gone))


class ChunkWriter:
    """Embeds and writes prepared documents in batches, in the order that keeps re-sync safe.

    `metadata` is merged into every chunk's `metadata`; with no `embedder`, or a
    `ClusterEmbedder` (whose ingest pipeline embeds them), chunks are sent without a
    vector. Failures go to `report` as the documents they belong to.
    """

    def __init__(self, client: Elasticsearch, index: str, *, embedder: ChunkEmbedder | None,
                 pipeline: str | None, metadata: Mapping[str, Any] | None,
                 report: IngestReport, progress: Progress | None) -> None:
        self.client = client
        self.index = index
        # the cluster embeds: its pipeline (ClusterEmbedder) or a semantic_text field
        self.embedder = None if isinstance(embedder, ClusterEmbedder | SemanticTextEmbedder) \
            else embedder
        self.pipeline = pipeline
        self.metadata = dict(metadata or {})
        self.report = report
        self.progress = progress
        self._embedded = 0

    def write_all(self, documents: Iterable[PreparedDocument], batch_size: int) -> None:
        """Write documents in batches of about `batch_size` chunks (whole documents each)."""
        batch: list[PreparedDocument] = []
        waiting = 0
        for document in documents:
            batch.append(document)
            waiting += len(document.chunks)
            if waiting >= batch_size:
                self.write(batch)
                batch, waiting = [], 0
        self.write(batch)

    def write(self, batch: list[PreparedDocument]) -> None:
        """Write one batch: chunks 1..n, then delete stale chunks, then ordinal 0 (the commit)."""
        if not batch:
            return
        bodies = self._bodies(batch)
        if bodies is None:
            return
        failed: dict[str, str] = {}
        commits = [b for b in bodies if b["ordinal"] == 0]
        self._bulk([b for b in bodies if b["ordinal"] != 0], failed)
        self._delete_stale([d for d in batch if d.file.doc_id not in failed], failed)
        self._bulk([b for b in commits if b["doc_id"] not in failed], failed)
        for document in batch:
            reason = failed.get(document.file.doc_id)
            if reason is not None:
                self.report.fail(document.file, reason)

    def _bodies(self, batch: list[PreparedDocument]) -> list[dict[str, Any]] | None:
        vectors: list[list[float]] | None = None
        if self.embedder is not None:
            started = time.perf_counter()
            texts = [c.text for d in batch for c in d.chunks]
            try:
                vectors = self.embedder.embed_documents(texts)
            except Exception as exc:  # report the batch, keep the run going
                for document in batch:
                    self.report.fail(document.file, f"embedding failed: {exc}")
                return None
            finally:
                self.report.time_since("embed", started)
            self._embedded += len(texts)
            if self.progress:
                self.progress("embed", self._embedded, None)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        bodies = [chunk_body(d, c, self.metadata, now) for d in batch for c in d.chunks]
        if vectors is not None:
            for body, vector in zip(bodies, vectors, strict=True):
                body["embedding"] = vector
        return bodies

    def _bulk(self, bodies: list[dict[str, Any]], failed: dict[str, str]) -> None:
        if not bodies:
            return
        started = time.perf_counter()
        owners = {b["chunk_id"]: b["doc_id"] for b in bodies}
        actions = ({"_op_type": "index", "_index": self.index, "_id": b["chunk_id"],
                    "_source": b} for b in bodies)
        options = {"pipeline": self.pipeline} if self.pipeline else {}
        try:
            for ok, item in streaming_bulk(
                    self.client, actions, chunk_size=_BULK_ACTIONS, raise_on_error=False,
                    raise_on_exception=False, max_retries=3, initial_backoff=1,
                    retry_on_status=(429, 503), **options):
                result = item.get("index", {})
                if ok:
                    self.report.chunks_indexed += 1
                else:
                    self.report.chunks_failed += 1
                    failed.setdefault(owners.get(result.get("_id"), ""), _item_error(result))
        except TransportError as exc:
            for body in bodies:
                failed.setdefault(body["doc_id"], f"the cluster could not be reached: {exc}")
        finally:
            self.report.time_since("index", started)
        if self.progress:
            self.progress("index", self.report.chunks_indexed, None)

    def _delete_stale(self, done: list[PreparedDocument], failed: dict[str, str]) -> None:
        """Remove the chunks of these documents that their new version no longer has."""
        if not done:
            return
        started = time.perf_counter()
        keep = [chunk_id(d.file.doc_id, c.ordinal, c.content_hash)
                for d in done for c in d.chunks]
        try:
            response = self.client.delete_by_query(
                index=self.index, conflicts="proceed", refresh=False,
                query={"bool": {"filter": [{"terms": {"doc_id": [d.file.doc_id for d in done]}}],
                                "must_not": [{"terms": {"chunk_id": keep}}]}})
            self.report.chunks_deleted += int(response.get("deleted", 0))
            problems = response.get("failures") or []
            if problems:
                raise RuntimeError(json.dumps(problems[0])[:500])
        except (ApiError, TransportError, RuntimeError) as exc:
            for document in done:
                failed.setdefault(document.file.doc_id,
                                  f"the old chunks could not be replaced: {exc}")
        finally:
            self.report.time_since("index", started)


def chunk_body(document: PreparedDocument, chunk: Chunk, metadata: Mapping[str, Any],
               now: str) -> dict[str, Any]:
    """The index document of one chunk (every field of the chunk mapping but `embedding`)."""
    file, parsed = document.file, document.parsed
    text_hash = chunk.content_hash
    body: dict[str, Any] = {
        "chunk_id": chunk_id(file.doc_id, chunk.ordinal, text_hash),
        "doc_id": file.doc_id,
        "doc_hash": document.doc_hash,
        "ordinal": chunk.ordinal,
        "source": file.source,
        "source_name": file.source_name,
        "source_root": file.source_root,
        "title": parsed.title or Path(file.source).name,
        "text": chunk.text,
        "headings": list(chunk.headings),
        "offsets": {"start": chunk.start, "end": chunk.end},
        "content_hash": text_hash,
        "mime_type": parsed.mime_type,
        "metadata": {**document.metadata, **metadata},
        "indexed_at": now,
        "updated_at": now,
    }
    if chunk.page is not None:
        body["page"] = chunk.page
    if parsed.language:
        body["language"] = parsed.language
    if document.acl is not None:
        body["acl"] = document.acl
    return body


def _item_error(result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" (caused by {cause.get('type')}: {cause['reason']})"
        return f"the cluster refused a chunk: {reason}"
    return f"the cluster refused a chunk: {error or 'status ' + str(result.get('status'))}"
