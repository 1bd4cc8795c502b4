"""JSONL corpora (BEIR format): each line a document, ids kept, re-synced like files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.ingest.discover import DiscoveryError
from es_rag.ingest.options import IngestOptions
from es_rag.ingest.records import ingest_records, read_jsonl_corpus

RECORDS = [
    {"_id": "101", "title": "Hybrid retrieval", "text": "BM25 and kNN lists are fused.",
     "metadata": {"year": "2024"}},
    {"_id": "102", "title": "", "text": "Reciprocal rank fusion needs a rank constant."},
    {"_id": "103", "title": "Judgments", "text": "Graded judgments drive rank evaluation."},
]


def write_corpus(path: Path, records: list[dict[str, Any]], extra_lines: str = "") -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n" + extra_lines)
    return path


def chunks(es: Elasticsearch) -> dict[str, dict[str, Any]]:
    hits = es.search(index="chunks", size=100, query={"match_all": {}})["hits"]["hits"]
    return {hit["_source"]["doc_id"]: hit["_source"] for hit in hits}


def test_lines_that_cannot_be_read_say_why(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus.jsonl", RECORDS[:1],
                          '\n{"_id": "7", "text": ""}\n{not json}\n["a list"]\n{"text": "no id"}\n')
    records = list(read_jsonl_corpus(corpus))
    assert [(r.doc_id, r.title, r.error) for r in records] == [
        ("101", "Hybrid retrieval", None),
        ("7", "", "line 3 (id 7) has no text"),
        ("", "", "line 4 is not valid JSON: Expecting property name enclosed in double quotes"),
        ("", "", "line 5 is not a JSON object"),
        ("", "", "line 6 has no `_id`"),
    ]
    assert records[0].metadata == {"year": "2024"}


def test_a_corpus_is_indexed_with_its_own_ids_and_re_synced(es: Elasticsearch, chunk_index: str,
                                                            tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "scifact.jsonl", RECORDS, "{broken\n")

    first = ingest_records(es, corpus, IngestOptions(index=chunk_index))

    assert (first.files_seen, first.files_parsed, first.files_failed) == (4, 3, 1)
    assert first.failures[0].reason.startswith("line 4 is not valid JSON")
    indexed = chunks(es)
    assert sorted(indexed) == ["101", "102", "103"]
    assert indexed["101"]["source"] == "scifact.jsonl#101"
    assert indexed["101"]["title"] == "Hybrid retrieval"
    assert indexed["101"]["text"] == "Hybrid retrieval\n\nBM25 and kNN lists are fused."
    assert indexed["101"]["metadata"]["year"] == "2024"
    assert indexed["102"]["text"] == "Reciprocal rank fusion needs a rank constant."

    again = ingest_records(es, corpus, IngestOptions(index=chunk_index))
    assert (again.files_unchanged, again.chunks_indexed) == (3, 0)

    edited = [dict(RECORDS[0], text="BM25 and kNN lists are fused with RRF."), RECORDS[1]]
    write_corpus(corpus, edited)
    synced = ingest_records(es, corpus, IngestOptions(index=chunk_index, prune=True))

    assert (synced.files_parsed, synced.files_unchanged, synced.files_pruned) == (1, 1, 1)
    indexed = chunks(es)
    assert sorted(indexed) == ["101", "102"]
    assert indexed["101"]["text"].endswith("fused with RRF.")


def test_a_missing_corpus_file_is_refused_by_name(es: Elasticsearch, chunk_index: str,
                                                  tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="gone.jsonl: no such corpus file"):
        ingest_records(es, tmp_path / "gone.jsonl", IngestOptions(index=chunk_index))
