"""semantic_text fields through the official client: text is chunked and embedded at index time
into `_inference_fields` (hidden from `_source` unless asked), found by the `semantic` query and
by `match`/`knn`/`sparse_vector` on the field, highlighted with its best chunks, copied into by
`copy_to`, reindexed without running the model again, and refused on a basic license."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import ApiError, BadRequestError, Elasticsearch

SPARSE = {"service": "test_service",
          "service_settings": {"model": "my_model", "api_key": "abc64"}}
DENSE = {"service": "text_embedding_test_service",
         "service_settings": {"model": "my_model", "dimensions": 8, "api_key": "abc64"}}
WORDS = {"strategy": "word", "max_chunk_size": 10, "overlap": 0}
LONG = ("The moon orbits the earth once a month and shows phases as it goes. "
        "Tides follow the moon because its gravity pulls the oceans toward it. "
        "Eclipses happen when the sun, the earth and the moon line up exactly.")


@pytest.fixture
def notes(es: Elasticsearch) -> Iterator[Elasticsearch]:
    """`notes` (a sparse semantic_text field chunked by words) and `vectors` (dense)."""
    es.inference.put(task_type="sparse_embedding", inference_id="sparse", inference_config=SPARSE)
    es.inference.put(task_type="text_embedding", inference_id="dense", inference_config=DENSE)
    es.indices.create(index="notes", mappings={"properties": {
        "title": {"type": "text", "copy_to": "body"},
        "body": {"type": "semantic_text", "inference_id": "sparse",
                 "chunking_settings": WORDS}}})
    es.indices.create(index="vectors", mappings={"properties": {
        "body": {"type": "semantic_text", "inference_id": "dense"}}})
    yield es
    es.indices.delete(index="*", allow_no_indices=True)
    for endpoint in es.inference.get()["endpoints"]:
        es.inference.delete(inference_id=endpoint["inference_id"], force=True)


def hits(body: Any) -> list[str]:
    return [h["_id"] for h in body["hits"]["hits"]]


def test_chunks_are_stored_in_inference_fields_and_hidden_from_source(notes: Elasticsearch
                                                                       ) -> None:
    notes.index(index="notes", id="1", document={"body": LONG}, refresh=True)
    plain = notes.get(index="notes", id="1")["_source"]
    assert plain == {"body": LONG}
    full = notes.get(index="notes", id="1", source_includes="_inference_fields,body")
    inference = full["_source"]["_inference_fields"]["body"]["inference"]
    assert inference["inference_id"] == "sparse"
    assert inference["model_settings"] == {"service": "test_service",
                                           "task_type": "sparse_embedding"}
    chunks = inference["chunks"]["body"]
    assert len(chunks) == 4  # 38 words in windows of 10
    assert chunks[0]["start_offset"] == 0 and chunks[-1]["end_offset"] == len(LONG)
    assert set(chunks[0]["embeddings"]) == {f"feature_{i}" for i in range(5)}
    hit = notes.search(index="notes", query={"semantic": {"field": "body", "query": "moon"}},
                       source={"exclude_vectors": False})["hits"]["hits"][0]
    assert "_inference_fields" in hit["_source"]


def test_semantic_match_knn_and_sparse_vector_find_documents_by_their_chunks(
        notes: Elasticsearch) -> None:
    notes.index(index="vectors", id="v1", document={"body": "inference test"})
    notes.index(index="vectors", id="v2", document={"body": "something else"})
    notes.index(index="vectors", id="v3", document={"title": "no body here"})
    notes.indices.refresh(index="vectors")
    by_semantic = notes.search(index="vectors", query={"semantic": {
        "field": "body", "query": "inference test"}})
    # the test service embeds equal texts equally: v1's chunk is the query's embedding
    assert hits(by_semantic) == ["v1", "v2"]
    assert by_semantic["hits"]["hits"][0]["_score"] == pytest.approx(1.0)
    assert hits(notes.search(index="vectors", query={"match": {
        "body": "inference test"}})) == ["v1", "v2"]
    knn = notes.search(index="vectors", query={"knn": {
        "field": "body", "k": 1, "num_candidates": 10,
        "query_vector_builder": {"text_embedding": {"model_text": "inference test"}}}})
    assert hits(knn) == ["v1"]
    notes.index(index="notes", id="n1", document={"body": ["inference test", "more"]},
                refresh=True)
    sparse = notes.search(index="notes", query={"sparse_vector": {
        "field": "body", "query_vector": {"feature_0": 1.0}}})
    assert hits(sparse) == ["n1"]
    assert notes.count(index="notes", query={"exists": {"field": "body"}})["count"] == 1


def test_semantic_query_on_a_text_field_is_refused(notes: Elasticsearch) -> None:
    notes.index(index="notes", id="1", document={"title": "x"}, refresh=True)
    with pytest.raises(BadRequestError) as err:
        notes.search(index="notes", query={"semantic": {"field": "title", "query": "x"}})
    assert "Field [title] of type [text] is not supported for [semantic] query" in \
        str(err.value)


def test_semantic_highlighting_returns_the_best_chunks_first(notes: Elasticsearch) -> None:
    notes.index(index="vectors", id="v1", document={"body": ["unrelated words", "tides"]},
                refresh=True)
    body = notes.search(index="vectors", query={"match": {"body": "tides"}},
                        highlight={"fields": {"body": {"number_of_fragments": 1}}})
    assert body["hits"]["hits"][0]["highlight"] == {"body": ["tides"]}


def test_copy_to_values_are_chunked_under_their_source_field(notes: Elasticsearch) -> None:
    notes.index(index="notes", id="1", document={"title": "copied title"}, refresh=True)
    source = notes.get(index="notes", id="1", source_includes="_inference_fields")["_source"]
    chunks = source["_inference_fields"]["body"]["inference"]["chunks"]
    assert list(chunks) == ["title"] and chunks["title"][0]["end_offset"] == len("copied title")
    assert hits(notes.search(index="notes", query={"semantic": {
        "field": "body", "query": "copied title"}})) == ["1"]


def test_reindex_keeps_the_embeddings_without_inference(notes: Elasticsearch) -> None:
    notes.index(index="notes", id="1", document={"body": LONG}, refresh=True)
    notes.indices.create(index="copy", mappings={"properties": {
        "body": {"type": "semantic_text", "inference_id": "sparse",
                 "chunking_settings": WORDS}}})
    original = notes.get(index="notes", id="1", source_includes="_inference_fields")
    # without a license for inference, only a copy that needs no model can be indexed
    notes.license.post_start_basic(acknowledge=True)
    try:
        notes.reindex(source={"index": "notes"}, dest={"index": "copy"}, refresh=True)
        copied = notes.get(index="copy", id="1", source_includes="_inference_fields")
        assert copied["_source"] == original["_source"]
        with pytest.raises(ApiError) as err:
            notes.index(index="notes", id="2", document={"body": "new text"})
        assert err.value.meta.status == 403
        assert "current license is non-compliant for [inference]" in str(err.value)
    finally:
        notes.license.post_start_trial(acknowledge=True)


def test_a_missing_endpoint_fails_the_document_not_the_bulk(notes: Elasticsearch) -> None:
    notes.indices.create(index="orphan", mappings={"properties": {
        "body": {"type": "semantic_text", "inference_id": "nowhere"}}})
    result = notes.bulk(operations=[{"index": {"_index": "orphan", "_id": "1"}},
                                    {"body": "text"},
                                    {"index": {"_index": "orphan", "_id": "2"}},
                                    {"other": "no semantic value"}])
    first, second = (item["index"] for item in result["items"])
    assert first["status"] == 404
    assert first["error"]["reason"] == "Inference id [nowhere] not found for field [body]"
    assert second["status"] == 201


def test_a_partial_update_of_the_text_embeds_it_again(notes: Elasticsearch) -> None:
    notes.index(index="vectors", id="v1", document={"body": "cat", "tag": "x"}, refresh=True)
    notes.update(index="vectors", id="v1", doc={"tag": "y"}, refresh=True)
    kept = notes.get(index="vectors", id="v1", source_includes="_inference_fields")
    assert kept["_source"]["_inference_fields"]["body"]["inference"]["chunks"]["body"]
    notes.update(index="vectors", id="v1", doc={"body": "dog"}, refresh=True)
    hit = notes.search(index="vectors", query={"semantic": {"field": "body", "query": "dog"}})
    # same length, new text: the chunk is the embedding of "dog", not the stale one of "cat"
    assert hit["hits"]["hits"][0]["_score"] == pytest.approx(1.0)


def test_multi_match_runs_a_semantic_match_on_semantic_text_fields(notes: Elasticsearch
                                                                   ) -> None:
    notes.index(index="vectors", id="v1", document={"body": "inference test"})
    notes.index(index="vectors", id="v2", document={"body": "other words"}, refresh=True)
    plain = notes.search(index="vectors", query={"multi_match": {
        "query": "inference test", "fields": ["body"]}})
    boosted = notes.search(index="vectors", query={"multi_match": {
        "query": "inference test", "fields": ["body^2"]}})
    assert hits(plain)[0] == "v1" and hits(boosted)[0] == "v1"
    assert boosted["hits"]["hits"][0]["_score"] == pytest.approx(
        2 * plain["hits"]["hits"][0]["_score"])
    with pytest.raises(BadRequestError) as err:
        notes.search(index="vectors", query={"multi_match": {
            "query": "x", "fields": ["body"], "type": "phrase"}})
    assert "multi_match query with type [phrase] is not supported for semantic_text fields" \
        in str(err.value)


def test_a_bulk_embeds_its_values_in_one_model_call_per_endpoint(
        notes: Elasticsearch, monkeypatch: pytest.MonkeyPatch) -> None:
    from es_rag.engine.inference.test_services import DenseTestService

    calls: list[int] = []
    embed = DenseTestService.embed

    def counted(self: Any, endpoint: Any, texts: list[str], input_type: str) -> Any:
        calls.append(len(texts))
        return embed(self, endpoint, texts, input_type)

    monkeypatch.setattr(DenseTestService, "embed", counted)
    operations: list[dict[str, Any]] = []
    for i in range(5):
        operations += [{"index": {"_index": "vectors", "_id": str(i)}}, {"body": f"text {i}"}]
    notes.bulk(operations=operations, refresh=True)
    assert calls == [5]
    stored = notes.get(index="vectors", id="3", source_includes="_inference_fields")["_source"]
    chunk = stored["_inference_fields"]["body"]["inference"]["chunks"]["body"][0]
    alone = notes.inference.text_embedding(inference_id="dense", input="text 3")
    assert chunk["embeddings"] == alone["text_embedding"][0]["embedding"]


def test_copy_to_indexes_values_into_another_field_without_touching_source(
        es: Elasticsearch) -> None:
    es.indices.create(index="people", mappings={"properties": {
        "first": {"type": "text", "copy_to": "full"},
        "last": {"type": "text", "copy_to": ["full"]},
        "full": {"type": "text"}}})
    es.index(index="people", id="1", document={"first": "John", "last": "Smith"}, refresh=True)
    body = es.search(index="people", query={"match": {
        "full": {"query": "john smith", "operator": "and"}}})
    assert hits(body) == ["1"]
    assert body["hits"]["hits"][0]["_source"] == {"first": "John", "last": "Smith"}


def test_embeddings_are_shown_only_when_asked(notes: Elasticsearch) -> None:
    notes.index(index="vectors", id="v1", document={"body": "cat"}, refresh=True)

    def first(**options: Any) -> dict[str, Any]:
        return notes.search(index="vectors", **options)["hits"]["hits"][0]

    assert first()["_source"] == {"body": "cat"}
    assert first(source={"exclude_vectors": True})["_source"] == {"body": "cat"}
    shown = first(source={"exclude_vectors": False})["_source"]
    record = shown["_inference_fields"]["body"]
    assert record["inference"]["chunks"]["body"][0]["end_offset"] == 3
    assert first(source={"includes": ["_inference_fields"]})["_source"] == {
        "_inference_fields": {"body": record}}
    assert first(source={"exclude_vectors": False, "excludes": ["_inference_fields"]}
                 )["_source"] == {"body": "cat"}
    # Elasticsearch 9.0 and 9.1 return them through `fields`
    assert first(fields=["_inference_fields"])["fields"] == {"_inference_fields": [
        {"body": record}]}
    assert "fields" not in first(fields=["*"]) or \
        "_inference_fields" not in first(fields=["*"])["fields"]
