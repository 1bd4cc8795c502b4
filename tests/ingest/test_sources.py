"""Document identity: every folder is a named source, so folders never replace or prune each
other's documents; documents indexed before sources existed are replaced, not duplicated."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.ingest import DiscoveryError, IngestError, ingest_paths
from es_rag.ingest.discover import SourceFile
from es_rag.ingest.options import IngestOptions
from es_rag.ingest.parse import ParsedDocument, TikaParser

from .conftest import PROJECT


def two_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Folders a/ and b/ that both hold a good.txt, and one more file each."""
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, other in ((a, "one.txt"), (b, "two.txt")):
        folder.mkdir()
        (folder / "good.txt").write_text(f"The good file of folder {folder.name}.\n")
        (folder / other).write_text(f"Another file of folder {folder.name}.\n")
    return a, b


def documents(es: Elasticsearch) -> dict[tuple[str, str], str]:
    """(source_name, source) -> text of each indexed document's first chunk."""
    es.indices.refresh(index="chunks")
    hits = es.search(index="chunks", query={"term": {"ordinal": 0}}, size=100)["hits"]["hits"]
    return {(h["_source"].get("source_name"), h["_source"]["source"]): h["_source"]["text"]
            for h in hits}


def test_same_named_files_of_two_folders_are_two_documents(
        es: Elasticsearch, chunk_index: str, parser: TikaParser, tmp_path: Path) -> None:
    a, b = two_folders(tmp_path)
    first = ingest_paths(es, [a], IngestOptions(index=chunk_index, parser=parser))
    second = ingest_paths(es, [b], IngestOptions(index=chunk_index, parser=parser))

    assert (first.files_parsed, second.files_parsed, second.chunks_deleted) == (2, 2, 0)
    assert documents(es) == {
        ("a", "good.txt"): "The good file of folder a.",
        ("a", "one.txt"): "Another file of folder a.",
        ("b", "good.txt"): "The good file of folder b.",
        ("b", "two.txt"): "Another file of folder b."}


def test_prune_deletes_only_the_missing_files_of_the_source_being_synced(
        es: Elasticsearch, chunk_index: str, parser: TikaParser, tmp_path: Path) -> None:
    a, b = two_folders(tmp_path)
    ingest_paths(es, [a], IngestOptions(index=chunk_index, parser=parser))
    ingest_paths(es, [b], IngestOptions(index=chunk_index, parser=parser))
    (b / "two.txt").unlink()

    synced = ingest_paths(es, [b], IngestOptions(index=chunk_index, parser=parser, prune=True))

    assert (synced.files_pruned, synced.files_unchanged) == (1, 1)
    assert set(documents(es)) == {("a", "good.txt"), ("a", "one.txt"), ("b", "good.txt")}
    # a file given alone does not sync its folder: nothing is pruned
    (a / "one.txt").unlink()
    alone = ingest_paths(es, [a / "good.txt"], IngestOptions(index=chunk_index, parser=parser,
                                                             prune=True))
    assert alone.files_pruned == 0 and ("a", "one.txt") in documents(es)


def test_a_named_source_keeps_its_ids_wherever_the_folder_is(
        es: Elasticsearch, chunk_index: str, parser: TikaParser, tmp_path: Path) -> None:
    a, _ = two_folders(tmp_path)
    ingest_paths(es, [a], IngestOptions(index=chunk_index, parser=parser, source_name="handbook"))
    moved = tmp_path / "elsewhere" / "copy"
    moved.parent.mkdir()
    a.rename(moved)
    again = ingest_paths(es, [moved], IngestOptions(index=chunk_index, parser=parser,
                                                    source_name="handbook"))
    assert (again.files_unchanged, again.files_parsed) == (2, 0)
    assert set(documents(es)) == {("handbook", "good.txt"), ("handbook", "one.txt")}


def test_documents_with_old_ids_are_replaced_by_their_files_and_the_rest_counted(
        es: Elasticsearch, chunk_index: str, parser: TikaParser, tmp_path: Path) -> None:
    a, _ = two_folders(tmp_path)
    for source in ("good.txt", "one.txt", "elsewhere.txt"):  # as an older es-rag wrote them
        old_id = hashlib.sha1(source.encode()).hexdigest()
        for ordinal in (0, 1):
            es.index(index="chunks", id=f"{old_id}:{ordinal}", refresh=True, document={
                "chunk_id": f"{old_id}:{ordinal}", "doc_id": old_id, "ordinal": ordinal,
                "source": source, "text": f"old text of {source}", "doc_hash": "old"})

    report = ingest_paths(es, [a], IngestOptions(index=chunk_index, parser=parser))

    assert (report.legacy_replaced, report.legacy_left) == (2, 1)
    assert report.to_dict()["legacy"] == {"replaced": 2, "left": 1}
    assert documents(es) == {("a", "good.txt"): "The good file of folder a.",
                             ("a", "one.txt"): "Another file of folder a.",
                             (None, "elsewhere.txt"): "old text of elsewhere.txt"}
    assert es.count(index="chunks", query={"term": {"source": "good.txt"}})["count"] == 1


def test_an_index_whose_mapping_predates_sources_is_refused_with_the_fix(
        es: Elasticsearch, tmp_path: Path) -> None:
    body = json.loads((PROJECT / "mappings" / "chunks.json").read_text())
    del body["mappings"]["properties"]["source_name"]
    body["settings"].pop("index.default_pipeline")
    es.indices.create(index="old-chunks", settings=body["settings"], mappings=body["mappings"])
    a, _ = two_folders(tmp_path)
    with pytest.raises(IngestError, match="no `source_name` field .* run `es-rag apply`"):
        ingest_paths(es, [a], IngestOptions(index="old-chunks"))


class SlowParser(TikaParser):
    """Parses `slow.txt` only once the progress has named it (or gives up after 20 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.named = threading.Event()
        self.waited: float | None = None

    def parse(self, path: Path) -> ParsedDocument:
        if path.name == "slow.txt":
            started = time.monotonic()
            self.named.wait(20)
            self.waited = time.monotonic() - started
        return ParsedDocument(text=path.read_text(), mime_type="text/plain")


def test_the_file_being_parsed_is_named_while_its_parse_runs(
        es: Elasticsearch, chunk_index: str, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fast.txt").write_text("A quick file.\n")
    (folder / "slow.txt").write_text("A file that takes long to parse.\n")
    parser = SlowParser()
    named: list[str] = []

    def parsing(file: SourceFile) -> None:
        named.append(file.source)
        if file.source == "slow.txt":
            parser.named.set()

    report = ingest_paths(es, [folder], IngestOptions(index=chunk_index, parser=parser),
                          parsing=parsing)

    assert report.files_parsed == 2
    assert named == ["fast.txt", "slow.txt"]
    assert parser.waited is not None and parser.waited < 10


@pytest.mark.timeout(60)  # reading a FIFO would block for ever
def test_a_file_swapped_for_a_fifo_fails_instead_of_hanging(
        es: Elasticsearch, chunk_index: str, parser: TikaParser, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("first.txt", "second.txt"):
        (folder / name).write_text(f"The text of {name}.\n")

    def acl(file: SourceFile) -> Any:
        if file.source == "first.txt":  # files are hashed in order: second.txt comes later
            (folder / "second.txt").unlink()
            os.mkfifo(folder / "second.txt")
        return None

    started = time.monotonic()
    report = ingest_paths(es, [folder], IngestOptions(index=chunk_index, parser=parser, acl=acl))
    assert time.monotonic() - started < 30
    assert [(f.source, f.reason) for f in report.failures] == [
        ("second.txt", "cannot read the file: not a regular file but a named pipe (FIFO)")]
    assert report.files_parsed == 1


def test_a_second_folder_of_the_same_name_is_refused_while_the_first_is_there(
        es: Elasticsearch, chunk_index: str, parser: TikaParser, tmp_path: Path) -> None:
    first, second = tmp_path / "x" / "docs", tmp_path / "y" / "docs"
    for folder in (first, second):
        folder.mkdir(parents=True)
        (folder / "good.txt").write_text(f"The good file in {folder.parent.name}.\n")
    ingest_paths(es, [first], IngestOptions(index=chunk_index, parser=parser))

    with pytest.raises(DiscoveryError, match=rf"source 'docs' already holds documents ingested "
                                             rf"from {first}, which is still there"):
        ingest_paths(es, [second], IngestOptions(index=chunk_index, parser=parser, prune=True))
    assert documents(es) == {("docs", "good.txt"): "The good file in x."}

    named = ingest_paths(es, [second], IngestOptions(index=chunk_index, parser=parser,
                                                     source_name="y-docs"))
    assert named.files_parsed == 1 and len(documents(es)) == 2
