"""semantic_text in the legacy (8.x) storage format, and `nested` queries on a semantic_text
field's chunks: an index created with `index.mapping.semantic_text.use_legacy_format: true`
keeps the text and its chunks in the field's own `_source` value (`{"text", "inference": {...,
"chunks": [{"text", "embeddings"}]}}`), get and search return that shape, and the field is still
found by its own queries; in either format a `nested` query on `<field>.inference.chunks` with a
`knn` or `sparse_vector` query on `<field>.inference.chunks.embeddings` finds documents by
their chunks, as applications written for 8.x query them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

SPARSE = {"service": "test_service",
          "service_settings": {"model": "my_model", "api_key": "abc64"}}
DENSE = {"service": "text_embedding_test_service",
         "service_settings": {"model": "my_model", "dimensions": 4, "api_key": "abc64"}}
LEGACY = {"index.mapping.semantic_text.use_legacy_format": True}


@pytest.fixture
def semantic(es: Elasticsearch) -> Iterator[Elasticsearch]:
    """A sparse and a dense endpoint; `old-sparse` and `old-dense` in the legacy format, `new`
    (sparse) in the current one."""
    es.inference.put(task_type="sparse_embedding", inference_id="sparse", inference_config=SPARSE)
    es.inference.put(task_type="text_embedding", inference_id="dense", inference_config=DENSE)
    for name, endpoint, settings in (("old-sparse", "sparse", LEGACY),
                                     ("old-dense", "dense", LEGACY), ("new", "sparse", {})):
        es.indices.create(index=name, settings=settings, mappings={"properties": {
            "body": {"type": "semantic_text", "inference_id": endpoint},
            "tag": {"type": "keyword"}}})
    yield es
    es.indices.delete(index="*", allow_no_indices=True)
    for endpoint in es.inference.get()["endpoints"]:
        es.inference.delete(inference_id=endpoint["inference_id"], force=True)


def ids(body: Any) -> list[str]:
    return [h["_id"] for h in body["hits"]["hits"]]


def on_chunks(field: str, inner: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"nested": {"path": f"{field}.inference.chunks", "query": inner, **extra}}


def test_the_legacy_format_keeps_text_and_chunks_in_the_field_value(semantic: Elasticsearch
                                                                     ) -> None:
    semantic.index(index="old-sparse", id="1", document={
        "body": ["inference test", "another inference test"], "tag": "a"}, refresh=True)
    source = semantic.get(index="old-sparse", id="1")["_source"]
    assert source["tag"] == "a" and "_inference_fields" not in source
    body = source["body"]
    assert body["text"] == ["inference test", "another inference test"]
    inference = body["inference"]
    assert inference["inference_id"] == "sparse"
    assert inference["model_settings"]["task_type"] == "sparse_embedding"
    assert [c["text"] for c in inference["chunks"]] == ["inference test",
                                                        "another inference test"]
    assert all(isinstance(c["embeddings"], dict) for c in inference["chunks"])
    hit = semantic.search(index="old-sparse", query={"semantic": {
        "field": "body", "query": "inference test"}})["hits"]["hits"][0]
    assert hit["_id"] == "1" and hit["_source"]["body"] == body
    assert ids(semantic.search(index="old-sparse", query={"match": {"body": "test"}})) == ["1"]
    fetched = semantic.search(index="old-sparse", fields=["body"])["hits"]["hits"][0]
    assert fetched["fields"] == {"body": ["inference test", "another inference test"]}


def test_a_new_text_replaces_the_legacy_object_and_is_embedded_again(semantic: Elasticsearch
                                                                      ) -> None:
    semantic.index(index="old-dense", id="1", document={"body": "cat"}, refresh=True)
    semantic.update(index="old-dense", id="1", doc={"tag": "x"}, refresh=True)
    kept = semantic.get(index="old-dense", id="1")["_source"]["body"]
    assert kept["text"] == "cat" and kept["inference"]["chunks"][0]["text"] == "cat"
    semantic.update(index="old-dense", id="1", doc={"body": "dog"}, refresh=True)
    body = semantic.get(index="old-dense", id="1")["_source"]["body"]
    assert body["text"] == "dog" and [c["text"] for c in body["inference"]["chunks"]] == ["dog"]
    hit = semantic.search(index="old-dense", query={"semantic": {"field": "body",
                                                                  "query": "dog"}})
    assert hit["hits"]["hits"][0]["_score"] == pytest.approx(1.0)


@pytest.mark.parametrize("index", ["old-sparse", "new"])
def test_nested_sparse_vector_queries_on_the_chunks_find_documents(semantic: Elasticsearch,
                                                                   index: str) -> None:
    semantic.index(index=index, id="1", document={"body": "inference test"})
    semantic.index(index=index, id="2", document={"tag": "no text"})
    semantic.indices.refresh(index=index)
    by_inference = semantic.search(index=index, query=on_chunks("body", {"sparse_vector": {
        "field": "body.inference.chunks.embeddings", "inference_id": "sparse",
        "query": "inference test"}}))
    assert ids(by_inference) == ["1"]
    weights = {"feature_0": 1, "feature_1": 2}
    by_vector = semantic.search(index=index, query=on_chunks("body", {"sparse_vector": {
        "field": "body.inference.chunks.embeddings", "query_vector": weights}}))
    assert ids(by_vector) == ["1"]
    assert by_vector["hits"]["hits"][0]["_score"] > 0


def test_nested_knn_queries_on_the_chunks_score_by_score_mode(semantic: Elasticsearch) -> None:
    semantic.index(index="old-dense", id="1", document={"body": ["alpha", "beta"]})
    semantic.index(index="old-dense", id="2", document={"body": "gamma"}, refresh=True)
    alpha = semantic.get(index="old-dense", id="1")["_source"]["body"]["inference"]["chunks"]
    vector = alpha[0]["embeddings"]
    knn = {"knn": {"field": "body.inference.chunks.embeddings", "k": 10, "num_candidates": 100,
                   "query_vector": vector}}
    best = semantic.search(index="old-dense", query=on_chunks("body", knn, score_mode="max"))
    assert best["hits"]["hits"][0]["_id"] == "1"
    assert best["hits"]["hits"][0]["_score"] == pytest.approx(1.0)
    average = semantic.search(index="old-dense", query=on_chunks("body", knn))
    first = next(h for h in average["hits"]["hits"] if h["_id"] == "1")
    assert first["_score"] < 1.0  # the mean of its two chunks' scores
    top_one = semantic.search(index="old-dense", query=on_chunks("body", {"knn": {
        **knn["knn"], "k": 1}}))
    assert ids(top_one) == ["1"]
    built = semantic.search(index="old-dense", query=on_chunks("body", {"knn": {
        "field": "body.inference.chunks.embeddings", "k": 10, "num_candidates": 100,
        "query_vector_builder": {"text_embedding": {"model_id": "dense",
                                                    "model_text": "gamma"}}}}))
    assert ids(built)[0] == "2"


def test_nested_queries_on_the_chunks_refuse_what_they_cannot_run(semantic: Elasticsearch
                                                                  ) -> None:
    semantic.index(index="old-dense", id="1", document={"body": "alpha"}, refresh=True)
    with pytest.raises(BadRequestError) as err:
        semantic.search(index="old-dense", query=on_chunks("body", {"knn": {
            "field": "body.inference.chunks.embeddings", "k": 1, "num_candidates": 10,
            "query_vector": [1, 2, 3]}}))
    assert err.value.body["error"]["reason"] == (
        "failed to create query: The query vector has a different number of dimensions [3] "
        "than the document vectors [4].")
    with pytest.raises(BadRequestError) as err:
        semantic.search(index="old-dense", query=on_chunks("body", {"match_all": {}}))
    assert "take a [knn] or [sparse_vector] query on [body.inference.chunks.embeddings]" in \
        err.value.body["error"]["reason"]
    with pytest.raises(BadRequestError) as err:
        semantic.search(index="old-dense", query=on_chunks("tag", {"match_all": {}}))
    assert err.value.body["error"]["reason"] == (
        "failed to create query: [nested] failed to find nested object under path "
        "[tag.inference.chunks]")


def test_the_format_is_fixed_when_the_index_is_created(semantic: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        semantic.indices.put_settings(index="new", settings=LEGACY)
    assert err.value.body["error"]["reason"] == (
        "final index setting [index.mapping.semantic_text.use_legacy_format], not updateable")
    shown = semantic.indices.get_settings(index="old-sparse")["old-sparse"]["settings"]
    assert shown["index"]["mapping"]["semantic_text"]["use_legacy_format"] == "true"
