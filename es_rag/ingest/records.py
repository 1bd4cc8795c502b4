"""Ingest JSONL corpora (BEIR's `corpus.jsonl`: `_id`, `title`, `text`, `metadata`) without Tika.

Each line is one document. Its id is the record's `_id` (so relevance judgments keyed by corpus
ids apply to the chunks as they are), its source is `<file name>#<_id>`, and its parsed text
is the title and the text joined by a blank line. Re-sync and pruning work as for files.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from es_rag.ingest.bulk import (
    LOOKUP_BATCH,
    ChunkWriter,
    PreparedDocument,
    bulk_pipeline,
    check_index,
    prune_documents,
)
from es_rag.ingest.chunk import Chunker
from es_rag.ingest.discover import (
    DiscoveryError,
    SourceFile,
    derived_source_name,
    root_label,
    source_name_problem,
)
from es_rag.ingest.index import acl_for, fingerprint, make_chunker, skip_unchanged
from es_rag.ingest.options import IngestOptions
from es_rag.ingest.parse import ParsedDocument
from es_rag.ingest.report import IngestReport, Progress


@dataclass(frozen=True)
class CorpusRecord:
    """One line of a JSONL corpus; `error` says why a line could not be read."""

    line: int
    doc_id: str = ""
    title: str = ""
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def read_jsonl_corpus(path: str | Path) -> Iterator[CorpusRecord]:
    """The records of a JSONL corpus, one per non-blank line, in file order.

    The id is `_id` (or `id`), the text `text` (or `contents`), the title `title`. A line that
    is not a JSON object with an id and some text yields a record whose `error` says why.
    """
    with Path(path).open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield _record(number, line)


def _record(number: int, line: str) -> CorpusRecord:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return CorpusRecord(number, error=f"line {number} is not valid JSON: {exc.msg}")
    if not isinstance(data, dict):
        return CorpusRecord(number, error=f"line {number} is not a JSON object")
    doc_id = data.get("_id", data.get("id"))
    text = data.get("text", data.get("contents"))
    title = data.get("title") or ""
    metadata = data.get("metadata") or {}
    if doc_id is None or str(doc_id) == "":
        return CorpusRecord(number, error=f"line {number} has no `_id`")
    if not isinstance(text, str) or not isinstance(title, str) or not (text.strip() or title):
        return CorpusRecord(number, doc_id=str(doc_id),
                            error=f"line {number} (id {doc_id}) has no text")
    if not isinstance(metadata, dict):
        metadata = {"value": metadata}
    return CorpusRecord(number, str(doc_id), title.strip(), text, metadata)


def ingest_records(client: Elasticsearch, corpus: str | Path, options: IngestOptions, *,
                   progress: Progress | None = None) -> IngestReport:
    """Index every record of a JSONL corpus as chunks of `options.index`; returns what happened.

    `options` mean what they mean for `ingest_paths` (its file-only ones are not used); a record
    counts as a file in the report,
    and a line that cannot be read is a failure naming its line number. Record ids are kept as
    the documents' ids (judgments refer to them); `source_name` (default: the corpus file's
    name) is stored on every chunk. `prune` deletes the
    documents of this corpus (same file name) whose id is no longer in it. Raises
    `DiscoveryError` when the corpus file does not exist.
    """
    started = time.perf_counter()
    corpus = Path(corpus)
    if not corpus.is_file():
        raise DiscoveryError(f"{corpus}: no such corpus file")
    o = options
    if o.source_name is not None and (problem := source_name_problem(o.source_name)):
        raise DiscoveryError(problem)
    name = o.source_name or derived_source_name(corpus)
    report = IngestReport()
    chunker = make_chunker(o.chunk_size, o.overlap, o.embedder)
    pipeline = bulk_pipeline(o.embedder, o.pipeline)
    check_index(client, o.index, o.embedder, pipeline)
    settings = fingerprint(o.chunk_size, o.overlap, o.embedder, o.metadata)
    writer = ChunkWriter(client, o.index, embedder=o.embedder, pipeline=pipeline,
                         metadata=o.metadata, report=report, progress=progress)
    seen: set[str] = set()
    records = read_jsonl_corpus(corpus)
    mtime = corpus.stat().st_mtime
    while block := list(islice(records, LOOKUP_BATCH)):
        step = time.perf_counter()
        entries = []
        texts: dict[str, tuple[CorpusRecord, ParsedDocument]] = {}
        for record in block:
            report.files_seen += 1
            file = SourceFile(path=corpus, source=f"{corpus.name}#{record.doc_id or record.line}",
                              doc_id=record.doc_id, size=len(record.text), mtime=mtime,
                              mime_type="text/plain", source_name=name,
                              source_root=root_label(corpus.resolve()))
            if record.error is not None or record.doc_id in seen:
                report.fail(file, record.error or f"line {record.line} repeats id {record.doc_id}")
                continue
            seen.add(record.doc_id)
            parsed = _parsed(record)
            file_acl = acl_for(o.acl, file)
            entries.append((file, _record_hash(record, settings, file_acl), file_acl))
            texts[record.doc_id] = (record, parsed)
        todo = skip_unchanged(client, o.index, entries, o.force, report)
        report.time_since("hash", step)
        if progress:
            progress("hash", report.files_seen, None)
        writer.write_all(_chunked(todo, texts, chunker, report), o.batch_size)
    if o.prune:
        step = time.perf_counter()
        prune_documents(client, o.index, {"prefix": {"source": f"{corpus.name}#"}}, seen, report,
                        progress)
        report.time_since("prune", step)
    if o.refresh:
        client.indices.refresh(index=o.index)
    report.time_since("total", started)
    return report


def _parsed(record: CorpusRecord) -> ParsedDocument:
    text = f"{record.title}\n\n{record.text}" if record.title else record.text
    return ParsedDocument(text=text, mime_type="text/plain", title=record.title or None)


def _record_hash(record: CorpusRecord, settings: str, acl: list[str] | None) -> str:
    content = json.dumps([settings, acl, record.title, record.text, record.metadata],
                         sort_keys=True, default=str)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _chunked(todo: Sequence[tuple[SourceFile, str, list[str] | None]],
             texts: dict[str, tuple[CorpusRecord, ParsedDocument]], chunker: Chunker,
             report: IngestReport) -> Iterator[PreparedDocument]:
    for file, doc_hash, file_acl in todo:
        record, parsed = texts[file.doc_id]
        started = time.perf_counter()
        chunks = chunker.chunk(parsed)
        report.time_since("chunk", started)
        report.files_parsed += 1
        yield PreparedDocument(file, doc_hash, parsed, chunks, file_acl, record.metadata)
