"""The `_inference` API through the official client: endpoints are created, listed, updated
and deleted with Elasticsearch's answers and errors, run deterministic test services, persist
across a restart, and need an enterprise/trial license."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import (
    AuthorizationException,
    BadRequestError,
    Elasticsearch,
    NotFoundError,
)

from es_rag.engine.inference.test_services import java_hash
from es_rag.engine.server import EngineServer

SPARSE = {"service": "test_service",
          "service_settings": {"model": "my_model", "api_key": "abc64"}}
DENSE = {"service": "text_embedding_test_service",
         "service_settings": {"model": "my_model", "dimensions": 4, "api_key": "abc64",
                              "similarity": "COSINE"}}
RERANK = {"service": "test_reranking_service",
          "service_settings": {"model_id": "my_model", "api_key": "abc64"}}


@pytest.fixture
def inference(es: Elasticsearch) -> Iterator[Elasticsearch]:
    """The session engine; every endpoint a test creates is deleted after it."""
    yield es
    for endpoint in es.inference.get()["endpoints"]:
        es.inference.delete(inference_id=endpoint["inference_id"], force=True)


def test_java_hash_matches_javas_string_hash_code() -> None:
    # values of "abc".hashCode(), "".hashCode() and a negative one, as the JVM computes them
    assert java_hash("abc") == 96354
    assert java_hash("") == 0
    assert java_hash("inference test") == -48762823
    assert java_hash("\U0001f600") == 31 * 0xD83D + 0xDE00  # its two UTF-16 code units


def test_an_endpoint_is_created_shown_without_secrets_and_listed(inference: Elasticsearch
                                                                  ) -> None:
    created = inference.inference.put(task_type="sparse_embedding", inference_id="sparse-1",
                                      inference_config=SPARSE)
    assert created.body == {"inference_id": "sparse-1", "task_type": "sparse_embedding",
                            "service": "test_service",
                            "service_settings": {"model": "my_model"}, "task_settings": {}}
    inference.inference.put(inference_id="dense-1", inference_config={
        **DENSE, "task_type": "text_embedding"})
    listed = inference.inference.get()["endpoints"]
    assert [e["inference_id"] for e in listed] == ["dense-1", "sparse-1"]
    dense = inference.inference.get(inference_id="dense-1")["endpoints"][0]
    assert dense["service_settings"] == {"model": "my_model", "dimensions": 4,
                                         "similarity": "cosine"}
    assert inference.inference.get(task_type="sparse_embedding")["endpoints"][0][
        "inference_id"] == "sparse-1"


def test_creation_errors_are_elasticsearchs(inference: Elasticsearch) -> None:
    inference.inference.put(task_type="sparse_embedding", inference_id="twice",
                            inference_config=SPARSE)
    with pytest.raises(BadRequestError) as err:
        inference.inference.put(task_type="sparse_embedding", inference_id="twice",
                                inference_config=SPARSE)
    assert err.value.error == "resource_already_exists_exception"
    assert "Inference endpoint [twice] already exists" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        inference.inference.put(task_type="text_embedding", inference_id="wrong-task",
                                inference_config=SPARSE)
    assert "The [test_service] service does not support task type [text_embedding]" in \
        str(err.value)
    with pytest.raises(BadRequestError) as err:
        inference.inference.put(task_type="sparse_embedding", inference_id="no-service",
                                inference_config={"service": "openai",
                                                  "service_settings": {}})
    assert "Unknown service [openai] for model [no-service]" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        inference.inference.put(task_type="text_embedding", inference_id="no-dims",
                                inference_config={"service": "text_embedding_test_service",
                                                  "service_settings": {"model": "m"}})
    assert "missing dimensions" in str(err.value) and "missing api_key" in str(err.value)
    with pytest.raises(NotFoundError) as err:
        inference.inference.get(inference_id="nowhere")
    assert "Inference endpoint not found [nowhere]" in str(err.value)


def test_test_services_give_the_test_plugins_deterministic_results(inference: Elasticsearch
                                                                   ) -> None:
    inference.inference.put(task_type="sparse_embedding", inference_id="sparse-1",
                            inference_config=SPARSE)
    inference.inference.put(task_type="text_embedding", inference_id="dense-1",
                            inference_config=DENSE)
    inference.inference.put(task_type="rerank", inference_id="rerank-1",
                            inference_config=RERANK)
    sparse = inference.inference.inference(task_type="sparse_embedding",
                                           inference_id="sparse-1", input="abc")
    # weights: |hashCode| + 1 + position
    assert sparse["sparse_embedding"][0]["embedding"] == {
        f"feature_{i}": float(96354 + 1 + i) for i in range(5)}
    dense = inference.inference.text_embedding(inference_id="dense-1", input=["abc"])
    # the UTF-8 bytes of "96354", repeated to the dimensions
    assert dense["text_embedding"][0]["embedding"] == [57.0, 54.0, 51.0, 53.0]
    ranked = inference.inference.rerank(inference_id="rerank-1", query="q",
                                        input=["0.5", "2", "1"])
    assert [(r["index"], r["relevance_score"]) for r in ranked["rerank"]] == [
        (1, 2.0), (2, 1.0), (0, 0.5)]
    with pytest.raises(BadRequestError) as err:
        inference.inference.inference(task_type="rerank", inference_id="rerank-1",
                                      input=["a"])
    assert "Field [query] cannot be null for task type [rerank]" in str(err.value)


def test_update_changes_task_settings_and_delete_refuses_an_endpoint_in_use(
        inference: Elasticsearch) -> None:
    inference.inference.put(task_type="sparse_embedding", inference_id="sparse-1",
                            inference_config=SPARSE)
    updated = inference.inference.update(inference_id="sparse-1", inference_config={
        "task_settings": {"temperature": 3}})
    assert updated["task_settings"] == {"temperature": 3}
    inference.indices.create(index="notes", mappings={"properties": {
        "body": {"type": "semantic_text", "inference_id": "sparse-1"}}})
    with pytest.raises(BadRequestError) as err:
        inference.inference.delete(inference_id="sparse-1")
    assert "is being used in the mapping for indexes" in str(err.value)
    dry = inference.inference.delete(inference_id="sparse-1", dry_run=True)
    assert dry["semantic_text_indices"] == ["notes"]
    assert inference.inference.delete(inference_id="sparse-1", force=True)["acknowledged"]
    with pytest.raises(NotFoundError):
        inference.inference.get(inference_id="sparse-1")


def test_completion_is_refused_the_engine_has_no_language_model(inference: Elasticsearch
                                                                 ) -> None:
    with pytest.raises(BadRequestError) as err:
        inference.inference.put(task_type="completion", inference_id="chat", inference_config={
            "service": "elasticsearch", "service_settings": {"model_id": "any"}})
    assert "does not support task type [completion]" in str(err.value)


def test_endpoints_survive_a_restart_and_need_an_enterprise_license(tmp_path: Path) -> None:
    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        es = Elasticsearch(server.url)
        es.inference.put(task_type="text_embedding", inference_id="kept", inference_config=DENSE)
    finally:
        server.stop()
    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        es = Elasticsearch(server.url)
        assert es.inference.get(inference_id="kept")["endpoints"][0]["service"] == \
            "text_embedding_test_service"
        es.license.post_start_basic(acknowledge=True)
        with pytest.raises(AuthorizationException) as err:
            es.inference.text_embedding(inference_id="kept", input="x")
        assert "current license is non-compliant for [inference]" in str(err.value)
        with pytest.raises(AuthorizationException):
            es.inference.put(task_type="sparse_embedding", inference_id="new",
                             inference_config=SPARSE)
    finally:
        server.stop()
