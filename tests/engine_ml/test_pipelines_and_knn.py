"""The cluster embeds: an `inference` processor writes vectors, kNN embeds the query text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from elasticsearch import ApiError, Elasticsearch

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DOCS = {"1": "Elasticsearch is a distributed search and analytics engine.",
        "2": "Bananas are a yellow tropical fruit rich in potassium.",
        "3": "Vector databases answer nearest-neighbour queries over embeddings."}
MAPPINGS = {"properties": {"content": {"type": "text"},
                           "content_vector": {"type": "dense_vector", "dims": 384,
                                              "similarity": "cosine"}}}


def embed_pipeline(es: Elasticsearch, model_id: str, name: str = "ml-embed") -> None:
    es.ingest.put_pipeline(id=name, processors=[{"inference": {
        "model_id": model_id,
        "input_output": [{"input_field": "content", "output_field": "content_vector"}]}}])


@pytest.fixture
def corpus(es: Elasticsearch, ml: Elasticsearch, minilm: str) -> str:
    """Index `docs` with vectors computed by the engine's pipeline."""
    embed_pipeline(ml, minilm)
    es.indices.create(index="docs", mappings=MAPPINGS,
                      settings={"index": {"default_pipeline": "ml-embed"}})
    es.bulk(operations=[x for i, text in DOCS.items()
                        for x in ({"index": {"_index": "docs", "_id": i}}, {"content": text})],
            refresh=True)
    return "docs"


def test_input_output_writes_the_vector_and_model_id(es: Elasticsearch, corpus: str,
                                                     sentence_model: SentenceTransformer
                                                     ) -> None:
    source = es.get(index=corpus, id="1")["_source"]
    assert set(source) == {"content", "content_vector", "model_id"}
    assert source["model_id"] == "minilm"
    np.testing.assert_allclose(source["content_vector"], sentence_model.encode([DOCS["1"]])[0],
                               atol=1e-5)


def test_target_field_and_field_map_write_a_result_object(ml: Elasticsearch, minilm: str,
                                                          sentence_model: SentenceTransformer
                                                          ) -> None:
    ml.ingest.put_pipeline(id="ml-legacy", processors=[{"inference": {
        "model_id": minilm, "tag": "emb", "field_map": {"body.text": "text_field"}}}])
    doc = ml.ingest.simulate(id="ml-legacy", docs=[{"_source": {"body": {"text": "hi there"}}}]
                             )["docs"][0]["doc"]["_source"]
    result = doc["ml"]["inference"]["emb"]
    assert result["model_id"] == minilm
    np.testing.assert_allclose(result["predicted_value"],
                               sentence_model.encode(["hi there"])[0], atol=1e-5)


def test_missing_input_fails_or_is_ignored(ml: Elasticsearch, minilm: str) -> None:
    embed_pipeline(ml, minilm)
    failed = ml.ingest.simulate(id="ml-embed", docs=[{"_source": {"title": "no content"}}]
                                )["docs"][0]["error"]
    assert failed["reason"] == "field [content] not present as part of path [content]"
    ml.ingest.put_pipeline(id="ml-lenient", processors=[{"inference": {
        "model_id": minilm, "ignore_missing": True,
        "input_output": {"input_field": "content", "output_field": "vec"}}}])
    doc = ml.ingest.simulate(id="ml-lenient", docs=[{"_source": {"title": "x"}}]
                             )["docs"][0]["doc"]["_source"]
    assert doc == {"title": "x"}


def test_processor_configuration_errors(ml: Elasticsearch, minilm: str) -> None:
    with pytest.raises(ApiError) as err:
        ml.ingest.put_pipeline(id="ml-bad", processors=[{"inference": {
            "model_id": minilm, "target_field": "out",
            "input_output": [{"input_field": "a", "output_field": "b"}]}}])
    assert err.value.body["error"]["type"] == "parse_exception"
    assert err.value.body["error"]["reason"].startswith(
        "[target_field] option is incompatible with [input_output]")
    with pytest.raises(ApiError) as err:
        ml.ingest.put_pipeline(id="ml-bad", processors=[{"inference": {}}])
    assert err.value.body["error"]["reason"] == "[model_id] required property is missing"


def bulk_errors(es: Elasticsearch, model_id: str) -> list[dict[str, Any]]:
    embed_pipeline(es, model_id, "ml-broken")
    response = es.bulk(operations=[{"index": {"_index": "broken", "_id": "1"}},
                                   {"content": "text"}], pipeline="ml-broken")
    return [item["index"] for item in response["items"]]


def test_a_missing_or_undeployed_model_fails_the_document(es: Elasticsearch,
                                                          ml: Elasticsearch) -> None:
    [item] = bulk_errors(es, "no-such-model")
    assert item["status"] == 404
    assert item["error"]["type"] == "resource_not_found_exception"
    assert item["error"]["reason"] == "Could not find trained model [no-such-model]"
    ml.ml.put_trained_model(model_id="idle", model_type="pytorch",
                            inference_config={"text_embedding": {}})
    [item] = bulk_errors(es, "idle")
    assert (item["status"], item["error"]["type"]) == (409, "status_exception")
    assert item["error"]["reason"].startswith("Model [idle] must be deployed to use.")


def test_on_failure_handles_a_model_failure(ml: Elasticsearch) -> None:
    ml.ingest.put_pipeline(id="ml-fallback", processors=[{"inference": {
        "model_id": "no-such-model",
        "input_output": [{"input_field": "content", "output_field": "vec"}],
        "on_failure": [{"set": {"field": "error", "value": "{{_ingest.on_failure_message}}"}}]}}])
    doc = ml.ingest.simulate(id="ml-fallback", docs=[{"_source": {"content": "x"}}]
                             )["docs"][0]["doc"]["_source"]
    assert doc["error"] == "Could not find trained model [no-such-model]"


def test_a_referenced_model_counts_its_pipelines_and_resists_deletion(ml: Elasticsearch,
                                                                      minilm: str) -> None:
    ml.ml.put_trained_model(model_id="used", model_type="pytorch",
                            inference_config={"text_embedding": {}})
    embed_pipeline(ml, "used", "ml-uses")
    stats = ml.ml.get_trained_models_stats(model_id="used")["trained_model_stats"][0]
    assert stats["pipeline_count"] == 1
    with pytest.raises(ApiError) as err:
        ml.ml.delete_trained_model(model_id="used")
    assert err.value.meta.status == 409
    assert "still referenced by ingest processors" in err.value.body["error"]["reason"]


def knn_builder(text: str, model_id: str = "minilm") -> dict[str, Any]:
    return {"text_embedding": {"model_id": model_id, "model_text": text}}


def test_knn_with_query_vector_builder_finds_the_right_document(es: Elasticsearch,
                                                                corpus: str) -> None:
    hits = es.search(index=corpus, knn={
        "field": "content_vector", "k": 3, "num_candidates": 10,
        "query_vector_builder": knn_builder("which software searches and analyses data?")},
        source=False)["hits"]["hits"]
    assert hits[0]["_id"] == "1"


def test_the_builder_scores_like_a_client_side_vector(es: Elasticsearch, corpus: str,
                                                      sentence_model: SentenceTransformer
                                                      ) -> None:
    question = "a fruit with potassium"
    vector = sentence_model.encode([question])[0].tolist()
    built = es.search(index=corpus, knn={"field": "content_vector", "k": 3,
                                         "num_candidates": 10,
                                         "query_vector_builder": knn_builder(question)})
    sent = es.search(index=corpus, knn={"field": "content_vector", "k": 3,
                                        "num_candidates": 10, "query_vector": vector})
    assert [h["_id"] for h in built["hits"]["hits"]] == [h["_id"] for h in sent["hits"]["hits"]]
    np.testing.assert_allclose([h["_score"] for h in built["hits"]["hits"]],
                               [h["_score"] for h in sent["hits"]["hits"]], atol=1e-5)


def test_the_builder_works_in_the_knn_query_and_retrievers(es: Elasticsearch,
                                                           corpus: str) -> None:
    question = "nearest neighbour search over embeddings"
    query = es.search(index=corpus, query={"bool": {"must": [{"knn": {
        "field": "content_vector", "k": 2, "num_candidates": 10,
        "query_vector_builder": knn_builder(question)}}]}})
    retriever = es.search(index=corpus, retriever={"rrf": {"retrievers": [
        {"standard": {"query": {"match": {"content": "embeddings"}}}},
        {"knn": {"field": "content_vector", "k": 2, "num_candidates": 10,
                 "query_vector_builder": knn_builder(question)}}]}})
    assert query["hits"]["hits"][0]["_id"] == "3"
    assert retriever["hits"]["hits"][0]["_id"] == "3"


def test_knn_builder_errors(es: Elasticsearch, corpus: str, ml: Elasticsearch) -> None:
    ml.ml.put_trained_model(model_id="idle", model_type="pytorch",
                            inference_config={"text_embedding": {}})
    for model_id in ("idle", "no-such-model"):
        with pytest.raises(ApiError) as err:
            es.search(index=corpus, knn={"field": "content_vector", "k": 1,
                                         "num_candidates": 5,
                                         "query_vector_builder": knn_builder("x", model_id)})
        assert (err.value.meta.status, err.value.body["error"]["type"]) == (404,
                                                                             "status_exception")
        assert err.value.body["error"]["reason"] == (
            f"[{model_id}] is not an inference service model or a deployed ml model")
    with pytest.raises(ApiError) as err:
        es.search(index=corpus, knn={"field": "content_vector", "k": 1, "num_candidates": 5,
                                     "query_vector": [0.0] * 384,
                                     "query_vector_builder": knn_builder("x")})
    assert err.value.body["error"]["reason"] == ("cannot provide both [query_vector] and "
                                                 "[query_vector_builder]")
