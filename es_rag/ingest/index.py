"""Ingest files into the chunk index: discover, hash, parse, chunk, embed, write, prune.

A failed file is reported (path, id, reason) and the rest of the run goes on. An unchanged file
(same `doc_hash`: SHA-256 of the settings fingerprint, its acl and its bytes) is skipped before
it is parsed; a changed one replaces its chunks (see `es_rag.ingest.bulk` for the order).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from es_rag.ingest.bulk import (
    ChunkEmbedder,
    ChunkWriter,
    PreparedDocument,
    bulk_pipeline,
    check_index,
    indexed_hashes,
    prune_documents,
)
from es_rag.ingest.chunk import (
    Chunker,
    code_language,
    tokenizer_spans,
    word_spans,
)
from es_rag.ingest.discover import SourceFile, discover, open_regular
from es_rag.ingest.options import AclSource, IngestOptions
from es_rag.ingest.parse import (
    ParseError,
    TikaParser,
)
from es_rag.ingest.report import IngestReport, Progress
from es_rag.ingest.sources import check_source_roots, replace_legacy

_FINGERPRINT_VERSION = 1  # bump when chunking changes, so every document is redone
_PREFETCH = 8

_Entry = tuple[SourceFile, str, list[str] | None]  # a file, its doc hash and its acl


def ingest_paths(client: Elasticsearch, paths: Sequence[str | Path] | str | Path,
                 options: IngestOptions, *, progress: Progress | None = None,
                 parsing: Callable[[SourceFile], None] | None = None) -> IngestReport:
    """Index the files under `paths` as chunks of `options.index`; returns what happened.

    The options (`IngestOptions`) are used as follows:

    - Discovery: `include`/`exclude` globs, `root`, `source_name`, `include_hidden` and
      `confine_to` as in `discover`. A path that cannot be used (missing, not a regular file,
      outside `confine_to`) is a failure in the report, and the other paths are still ingested;
      FIFOs, devices and links that cannot be followed are listed in `report.skipped`.
    - Parsing: Tika with a per-file `timeout` (seconds), `max_bytes` file size limit and
      `max_chars` text limit (longer text is cut, with a warning); a file that fails is listed
      in `report.failures`. A long-lived `parser` may be passed instead (its own limits apply;
      it is left open). `parsing(file)` is called (from the parsing thread) as each file's parse
      starts, so a caller can name the file while a long parse runs.
    - Chunking: `chunk_size` and `overlap` in tokens of `embedder`'s tokenizer (words and
      punctuation when there is none); code files are cut at definitions.
    - Embedding: with an `Embedder`, each chunk gets an `embedding`; with a `ClusterEmbedder`,
      the cluster's pipeline (`chunks-cluster-embedding`) computes it; with None, no vector is
      sent.
    - `acl`: users/groups written to every chunk, or a function of the `SourceFile` giving them;
      `metadata`: fields merged into each chunk's `metadata` (after author/created/modified).
    - `pipeline`: ingest pipeline for the bulk requests (otherwise the `ClusterEmbedder`'s, or
      the index's default pipeline).
    - Re-sync: unchanged files are skipped unless `force`; changed files replace their chunks.
      `prune` deletes the indexed documents of the sources whose root folder was given that
      were not found; other sources are never touched. A document indexed before sources
      existed (its id from the relative path alone) is replaced by the file of this run with
      that path; the ones left are counted in `report.legacy_left`.
    - `batch_size`: chunks embedded and sent together (memory stays bounded by it).
    - `progress(stage, done, total)` is called as work advances; `refresh` makes the result
      searchable before returning.
    Raises `IngestError` when the index or its ingest pipeline does not exist, or its vector
    dims differ from the model's, and `DiscoveryError` when two root folders would be one source
    (in this run, or a folder still on this host that the source was ingested from before).
    """
    o = options
    started = time.perf_counter()
    report = IngestReport()
    chunker = make_chunker(o.chunk_size, o.overlap, o.embedder)
    pipeline = bulk_pipeline(o.embedder, o.pipeline)
    check_index(client, o.index, o.embedder, pipeline)

    step = time.perf_counter()
    found = discover(paths, root=o.root, source_name=o.source_name, include=o.include,
                     exclude=o.exclude, include_hidden=o.include_hidden, confine_to=o.confine_to)
    for bad in found.unusable:
        report.fail_path(bad.path, bad.reason)
    for skipped in found.skipped:
        report.skip(skipped)
    check_source_roots(client, o.index, found.roots)
    files = found.files
    report.files_seen = len(files)
    report.time_since("discover", step)

    step = time.perf_counter()
    entries = _hash_files(files, fingerprint(o.chunk_size, o.overlap, o.embedder, o.metadata),
                          o.acl, o.parser.max_bytes if o.parser else o.max_bytes, report,
                          progress)
    todo = skip_unchanged(client, o.index, entries, o.force, report)
    report.time_since("hash", step)

    writer = ChunkWriter(client, o.index, embedder=o.embedder, pipeline=pipeline,
                         metadata=o.metadata, report=report, progress=progress)
    tika = o.parser or TikaParser(timeout=o.timeout, max_bytes=o.max_bytes, max_chars=o.max_chars)
    try:
        writer.write_all(_prepare(todo, tika, chunker, report, progress, parsing), o.batch_size)
    finally:
        if o.parser is None:
            tika.close()

    failed = {f.doc_id for f in report.failures}
    replace_legacy(client, o.index, [f for f in files if f.doc_id not in failed], report)
    if o.prune:
        step = time.perf_counter()
        for name in sorted(found.synced):
            prune_documents(client, o.index, {"term": {"source_name": name}},
                            {f.doc_id for f in files}, report, progress)
        report.time_since("prune", step)
    if o.refresh:
        client.indices.refresh(index=o.index)
    report.time_since("total", started)
    return report


def make_chunker(chunk_size: int, overlap: int, embedder: ChunkEmbedder | None) -> Chunker:
    """A chunker counting tokens with the embedder's tokenizer (words when it has none)."""
    tokenizer = embedder.tokenizer if embedder is not None else None
    spans = tokenizer_spans(tokenizer) if tokenizer is not None else word_spans
    return Chunker(chunk_size=chunk_size, overlap=overlap, token_spans=spans)


def fingerprint(chunk_size: int, overlap: int, embedder: ChunkEmbedder | None,
                metadata: Mapping[str, Any] | None) -> str:
    """The settings that shape the chunks: a change re-indexes every document."""
    settings = {"version": _FINGERPRINT_VERSION, "chunk_size": chunk_size, "overlap": overlap,
                "model": embedder.model_name if embedder is not None else None,
                "metadata": metadata or {}}
    return json.dumps(settings, sort_keys=True, default=str)


def acl_for(acl: AclSource, file: SourceFile) -> list[str] | None:
    """The acl of one file from a fixed list or a function; None when there is none."""
    if acl is None:
        return None
    values = acl(file) if callable(acl) else acl
    return None if values is None else [str(v) for v in values]


def skip_unchanged(client: Elasticsearch, index: str, entries: list[_Entry], force: bool,
                   report: IngestReport) -> list[_Entry]:
    """The entries whose doc hash differs from the committed one; the others are counted."""
    if force:
        return entries
    indexed = indexed_hashes(client, index, [file.doc_id for file, _, _ in entries])
    todo = [entry for entry in entries if indexed.get(entry[0].doc_id) != entry[1]]
    report.files_unchanged += len(entries) - len(todo)
    return todo


def _hash_files(files: list[SourceFile], settings: str, acl: AclSource, max_bytes: int,
                report: IngestReport, progress: Progress | None) -> list[_Entry]:
    """Each readable file with its doc hash and acl; files over `max_bytes` are not read."""
    entries: list[_Entry] = []
    for done, file in enumerate(files, 1):
        file_acl = acl_for(acl, file)
        try:
            doc_hash = _file_hash(file, settings, file_acl) if file.size <= max_bytes else ""
            entries.append((file, doc_hash, file_acl))
        except FileNotFoundError:
            report.fail(file, "the file disappeared before it could be read")
        except OSError as exc:
            report.fail(file, f"cannot read the file: {exc.strerror}")
        if progress:
            progress("hash", done, len(files))
    return entries


def _file_hash(file: SourceFile, settings: str, acl: list[str] | None) -> str:
    digest = hashlib.sha256(settings.encode("utf-8"))
    digest.update(json.dumps(acl).encode("utf-8"))
    with open_regular(file.path) as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class _Outcome:
    """What parsing and chunking one file gave: a prepared document or the reason it failed."""

    file: SourceFile
    prepared: PreparedDocument | None = None
    reason: str | None = None
    warning: str | None = None
    parse_seconds: float = 0.0
    chunk_seconds: float = 0.0


def _prepare(todo: list[_Entry], parser: TikaParser, chunker: Chunker, report: IngestReport,
             progress: Progress | None,
             parsing: Callable[[SourceFile], None] | None) -> Iterator[PreparedDocument]:
    """Parse and chunk files in a background thread, yielding them in order as they are ready.

    Parsing waits on the Tika worker process and so overlaps with embedding in the caller; the
    report is only touched from the caller's thread.
    """
    ready: queue.Queue[_Outcome | None] = queue.Queue(maxsize=_PREFETCH)
    stop = threading.Event()

    def produce() -> None:
        try:
            for file, doc_hash, file_acl in todo:
                if stop.is_set():
                    return
                if parsing:
                    parsing(file)
                ready.put(_parse_and_chunk(file, doc_hash, file_acl, parser, chunker))
        finally:
            ready.put(None)

    worker = threading.Thread(target=produce, name="es-rag-parse", daemon=True)
    worker.start()
    try:
        done = 0
        while (outcome := ready.get()) is not None:
            done += 1
            report.add_time("parse", outcome.parse_seconds)
            report.add_time("chunk", outcome.chunk_seconds)
            if outcome.warning:
                report.warn(outcome.file, outcome.warning)
            if outcome.prepared is None:
                report.fail(outcome.file, outcome.reason or "unknown failure")
            else:
                report.files_parsed += 1
            if progress:
                progress("parse", done, len(todo))
            if outcome.prepared is not None:
                yield outcome.prepared
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.1)
        worker.join()


def _parse_and_chunk(file: SourceFile, doc_hash: str, file_acl: list[str] | None,
                     parser: TikaParser, chunker: Chunker) -> _Outcome:
    outcome = _Outcome(file)
    step = time.perf_counter()
    try:
        parsed = parser.parse(file.path)
    except ParseError as exc:
        outcome.reason = str(exc)
        return outcome
    except Exception as exc:  # every file gets an outcome, the run goes on
        outcome.reason = f"parsing failed: {exc.__class__.__name__}: {exc}"
        return outcome
    finally:
        outcome.parse_seconds = time.perf_counter() - step
    if parsed.truncated:
        outcome.warning = f"the text was cut at {parser.max_chars:,} characters"
    step = time.perf_counter()
    try:
        chunks = chunker.chunk(parsed, language=code_language(file.path))
    except Exception as exc:  # one bad document must not stop the run
        outcome.reason = f"chunking failed: {exc.__class__.__name__}: {exc}"
        return outcome
    finally:
        outcome.chunk_seconds = time.perf_counter() - step
    if chunks:
        described = {"author": parsed.author, "created": parsed.created,
                     "modified": parsed.modified}
        outcome.prepared = PreparedDocument(file, doc_hash, parsed, chunks, file_acl,
                                            {k: v for k, v in described.items() if v})
    else:
        outcome.reason = "no text to index after chunking"
    return outcome
