"""End to end: a folder of documents ingested into the chunk index of the embedded engine.

Only the tests about vectors load the model; re-sync works the same with or without one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.embedding.local import Embedder
from es_rag.ingest import (
    IngestError,
    IngestReport,
    delete_document,
    index_counts,
    ingest_paths,
)
from es_rag.ingest.options import IngestOptions
from es_rag.ingest.parse import TikaParser

PARSEABLE = 8  # documents in the corpus fixture
Ingest = Callable[..., IngestReport]


@pytest.fixture
def ingest(es: Elasticsearch, chunk_index: str, corpus: Path, parser: TikaParser) -> Ingest:
    """Ingest the corpus folder into the chunk index, with the session's Tika worker."""

    def run(embedder: Embedder | None = None, **options: Any) -> IngestReport:
        options.setdefault("parser", parser)
        progress = options.pop("progress", None)
        return ingest_paths(es, [corpus], IngestOptions(index=chunk_index, embedder=embedder,
                                                        **options), progress=progress)

    return run


def chunks_of(es: Elasticsearch, source: str) -> list[dict[str, Any]]:
    hits = es.search(index="chunks", query={"term": {"source": source}}, size=200,
                     sort=[{"ordinal": "asc"}])["hits"]["hits"]
    return [hit["_source"] for hit in hits]


def test_a_folder_becomes_searchable_chunks_and_bad_files_are_reported(
        es: Elasticsearch, ingest: Ingest, corpus: Path, embedder: Embedder,
        parser: TikaParser) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "huge.txt").write_text("lots of words " * 20_000)

    report = ingest(embedder, parser=None, max_bytes=200_000)

    assert (report.files_seen, report.files_parsed, report.files_failed) == (11, PARSEABLE, 3)
    reasons = {failure.source: failure.reason for failure in report.failures}
    assert reasons["broken.pdf"].startswith("Tika could not parse the file")
    assert reasons["empty.md"] == "the file is empty (0 bytes)"
    assert "over the size limit of 195.3 KB" in reasons["huge.txt"]
    assert report.chunks_indexed == es.count(index="chunks")["count"] > PARSEABLE
    assert report.chunks_failed == 0
    assert json.loads(json.dumps(report.to_dict()))["files"]["failed"] == 3

    hits = es.search(index="chunks", query={"match": {"text": "rank constant flattens"}})
    chunk = hits["hits"]["hits"][0]["_source"]
    assert chunk["source"] == "handbook.html"
    assert chunk["title"] == "Relevance tuning handbook"
    assert chunk["headings"] == ["Relevance tuning", "Hybrid search", "Rank constant"]
    assert (chunk["mime_type"], chunk["language"]) == ("text/html", "en")
    assert chunk["source_name"] == "docs"  # the folder's own name
    assert chunk["doc_id"] == hashlib.sha1(b"docs\nhandbook.html").hexdigest()
    assert chunk["content_hash"] == hashlib.sha256(chunk["text"].encode()).hexdigest()
    assert chunk["chunk_id"] == f"{chunk['doc_id']}:{chunk['ordinal']}:{chunk['content_hash'][:8]}"
    assert len(chunk["embedding"]) == 384 and chunk["doc_hash"]
    parsed = parser.parse(corpus / "handbook.html")
    assert parsed.text[chunk["offsets"]["start"]:chunk["offsets"]["end"]] == chunk["text"]

    question = embedder.embed_query("which endpoint answers the readiness probe?")
    knn = es.search(index="chunks", knn={"field": "embedding", "query_vector": question,
                                         "k": 3, "num_candidates": 50})
    assert "server.go" in [hit["_source"]["source"] for hit in knn["hits"]["hits"]]
    assert [c["page"] for c in chunks_of(es, "report.pdf")] == [1, 2, 3]
    assert chunks_of(es, "manual.docx")[0]["metadata"]["author"] == "Search team"


def test_a_second_run_skips_every_unchanged_file(es: Elasticsearch, ingest: Ingest) -> None:
    first = ingest()
    second = ingest()
    assert first.files_parsed == PARSEABLE
    assert (second.files_unchanged, second.files_parsed, second.chunks_indexed) == (
        PARSEABLE, 0, 0)
    assert es.count(index="chunks")["count"] == first.chunks_indexed
    assert second.seconds["total"] < first.seconds["total"] / 2


def test_a_changed_file_replaces_its_old_chunks(es: Elasticsearch, ingest: Ingest,
                                                corpus: Path) -> None:
    ingest(chunk_size=32, overlap=4)
    before = {c["chunk_id"] for c in chunks_of(es, "guide.md")}
    not_guide = {"bool": {"must_not": {"term": {"source": "guide.md"}}}}
    others = es.count(index="chunks", query=not_guide)["count"]
    guide = corpus / "guide.md"
    guide.write_text(guide.read_text().split("Ingesting documents")[0])

    report = ingest(chunk_size=32, overlap=4)

    after = chunks_of(es, "guide.md")
    assert (report.files_parsed, report.files_unchanged) == (1, PARSEABLE - 1)
    assert report.chunks_deleted == len(before - {c["chunk_id"] for c in after}) > 0
    assert [c["ordinal"] for c in after] == list(range(len(after)))
    assert not any("Re-ingesting" in c["text"] for c in after)
    assert es.count(index="chunks", query=not_guide)["count"] == others


def test_removed_files_are_deleted_only_when_pruning(es: Elasticsearch, ingest: Ingest,
                                                     corpus: Path) -> None:
    ingest()
    (corpus / "notes.txt").unlink()
    kept = ingest()
    assert kept.files_pruned == 0 and chunks_of(es, "notes.txt")
    pruned = ingest(prune=True)
    assert (pruned.files_pruned, pruned.chunks_deleted) == (1, 1)
    assert chunks_of(es, "notes.txt") == []
    assert pruned.files_unchanged == PARSEABLE - 1


def test_a_file_that_disappears_during_the_run_is_reported(ingest: Ingest,
                                                           corpus: Path) -> None:
    def acl(file) -> None:
        if file.source == "guide.md":  # files are read in order: notes.txt comes later
            (corpus / "notes.txt").unlink()

    report = ingest(acl=acl)

    assert [(f.source, f.reason) for f in report.failures] == [
        ("notes.txt", "the file disappeared before it could be read")]
    assert report.files_parsed == PARSEABLE - 1


def test_a_document_can_be_deleted_by_id(es: Elasticsearch, ingest: Ingest) -> None:
    report = ingest()
    assert index_counts(es, "chunks") == (report.chunks_indexed, PARSEABLE)
    guide = chunks_of(es, "guide.md")
    assert delete_document(es, "chunks", guide[0]["doc_id"]) == len(guide)
    assert chunks_of(es, "guide.md") == [] and chunks_of(es, "handbook.html")
    assert index_counts(es, "chunks") == (report.chunks_indexed - len(guide), PARSEABLE - 1)


def test_a_chunk_the_cluster_refuses_fails_its_document_only_until_the_next_run(
        es: Elasticsearch, ingest: Ingest) -> None:
    es.ingest.put_pipeline(id="refuse-one-chunk", processors=[{"fail": {
        "if": "ctx.source == 'guide.md' && ctx.ordinal == 2",
        "message": "this chunk is refused"}}])

    refused = ingest(chunk_size=32, overlap=4, pipeline="refuse-one-chunk")

    [failure] = refused.failures
    assert failure.source == "guide.md" and "this chunk is refused" in failure.reason
    assert (refused.files_failed, refused.chunks_failed) == (1, 1)
    assert chunks_of(es, "handbook.html") and chunks_of(es, "report.pdf")
    assert 0 not in [c["ordinal"] for c in chunks_of(es, "guide.md")]  # not committed

    retried = ingest(chunk_size=32, overlap=4)

    assert (retried.files_parsed, retried.files_unchanged, retried.files_failed) == (
        1, PARSEABLE - 1, 0)
    ordinals = [c["ordinal"] for c in chunks_of(es, "guide.md")]
    assert ordinals == list(range(len(ordinals)))


def test_without_an_embedder_chunks_carry_no_vector(es: Elasticsearch, ingest: Ingest) -> None:
    report = ingest(include=["*.md", "*.html"])
    assert report.files_parsed == 2 and report.failures == []
    assert all("embedding" not in c for c in chunks_of(es, "guide.md"))


def test_acl_and_metadata_are_written_to_every_chunk(es: Elasticsearch, ingest: Ingest) -> None:
    def acl(file) -> list[str]:
        return ["finance"] if file.source.endswith(".pdf") else ["staff", "finance"]

    ingest(acl=acl, metadata={"team": "search"})
    assert {c["acl"][0] for c in chunks_of(es, "report.pdf")} == {"finance"}
    assert all(c["acl"] == ["staff", "finance"] for c in chunks_of(es, "guide.md"))
    assert all(c["metadata"]["team"] == "search" for c in chunks_of(es, "notes.txt"))
    changed = ingest(acl=["everyone"], metadata={"team": "search"})
    assert changed.files_parsed == PARSEABLE  # a new acl re-indexes every file


def test_progress_is_reported_for_each_stage(ingest: Ingest, embedder: Embedder) -> None:
    calls: list[tuple[str, int, int | None]] = []
    ingest(embedder, include=["*.md", "*.txt"],
           progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert {stage for stage, _, _ in calls} == {"hash", "parse", "embed", "index"}
    assert ("parse", 2, 2) in calls


def test_ingest_refuses_to_start_on_an_index_that_does_not_fit(
        es: Elasticsearch, corpus: Path, embedder: Embedder) -> None:
    with pytest.raises(IngestError, match="index 'missing' does not exist"):
        ingest_paths(es, [corpus], IngestOptions(index="missing", embedder=embedder))
    es.indices.create(index="small-vectors", mappings={"properties": {
        "embedding": {"type": "dense_vector", "dims": 8, "similarity": "cosine"}}})
    with pytest.raises(IngestError, match="holds 8-dim vectors .* makes 384-dim ones"):
        ingest_paths(es, [corpus], IngestOptions(index="small-vectors", embedder=embedder))
    es.indices.create(index="piped", settings={"index.default_pipeline": "not-there"})
    with pytest.raises(IngestError, match="ingest pipeline 'not-there' .* does not exist"):
        ingest_paths(es, [corpus], IngestOptions(index="piped"))
    with pytest.raises(IngestError, match="ingest pipeline 'nor-this' .* does not exist"):
        ingest_paths(es, [corpus], IngestOptions(index="small-vectors", pipeline="nor-this"))
