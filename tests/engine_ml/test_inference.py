"""An eland-uploaded MiniLM runs in the engine and equals sentence-transformers' vectors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from elasticsearch import BadRequestError, Elasticsearch, ElasticsearchWarning

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

TEXTS = [
    "What is the capital of France?",
    "Elasticsearch stores BM25 text and dense vectors in the same index.",
    "Crème brûlée à São Paulo: naïve café, 日本語 and emoji 🙂",
    "short",
]


def test_the_config_is_stored_with_elasticsearch_defaults(ml: Elasticsearch, minilm: str
                                                          ) -> None:
    config = ml.ml.get_trained_models(model_id=minilm, include="definition_status"
                                      )["trained_model_configs"][0]
    assert config["model_type"] == "pytorch" and config["fully_defined"] is True
    assert config["input"] == {"field_names": ["text_field"]}
    assert config["inference_config"]["text_embedding"]["tokenization"] == {"bert": {
        "do_lower_case": True, "with_special_tokens": True, "max_sequence_length": 512,
        "truncate": "first", "span": -1}}
    assert config["inference_config"]["text_embedding"]["embedding_size"] == 384
    assert config["model_size_bytes"] > 80_000_000
    assert config["license_level"] == "platinum" and config["created_by"] == "api_user"


def test_infer_equals_sentence_transformers(ml: Elasticsearch, minilm: str,
                                            sentence_model: SentenceTransformer) -> None:
    response = ml.ml.infer_trained_model(model_id=minilm,
                                         docs=[{"text_field": t} for t in TEXTS])
    vectors = np.array([r["predicted_value"] for r in response["inference_results"]])
    expected = sentence_model.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)  # normalized


def test_a_long_text_is_truncated_at_512_tokens(ml: Elasticsearch, minilm: str,
                                                sentence_model: SentenceTransformer) -> None:
    text = " ".join(f"word{i}" for i in range(400))
    result = ml.ml.infer_trained_model(model_id=minilm, docs=[{"text_field": text}]
                                       )["inference_results"][0]
    assert result["is_truncated"] is True
    default = sentence_model.max_seq_length
    sentence_model.max_seq_length = 512
    try:
        expected = sentence_model.encode([text])[0]
    finally:
        sentence_model.max_seq_length = default
    np.testing.assert_allclose(result["predicted_value"], expected, atol=1e-5)


def test_inference_config_overrides_results_field_and_truncation(ml: Elasticsearch,
                                                                 minilm: str) -> None:
    result = ml.ml.infer_trained_model(
        model_id=minilm, docs=[{"text_field": "hello"}],
        inference_config={"text_embedding": {"results_field": "vector"}})
    assert list(result["inference_results"][0]) == ["vector"]
    with pytest.raises(BadRequestError) as err:
        ml.ml.infer_trained_model(
            model_id=minilm, docs=[{"text_field": " ".join(["word"] * 600)}],
            inference_config={"text_embedding": {"tokenization": {"bert": {"truncate":
                                                                           "none"}}}})
    assert err.value.body["error"]["reason"] == ("Input too large. The tokenized input length "
                                                 "[602] exceeds the maximum sequence length "
                                                 "[512]")


def test_a_document_without_the_input_field_is_refused(ml: Elasticsearch, minilm: str) -> None:
    with pytest.raises(BadRequestError) as err:
        ml.ml.infer_trained_model(model_id=minilm, docs=[{"body": "hello"}])
    assert err.value.body["error"]["reason"] == ("Input field [text_field] does not exist in "
                                                 "the source document")


def test_the_deprecated_deployment_infer_warns(ml: Elasticsearch, minilm: str) -> None:
    with pytest.warns(ElasticsearchWarning, match="deployment/_infer] is deprecated"):
        response = ml.perform_request("POST", f"/_ml/trained_models/{minilm}/deployment/_infer",
                                      headers={"content-type": "application/json",
                                               "accept": "application/json"},
                                      body={"docs": [{"text_field": "hello"}]})
    assert len(response["inference_results"][0]["predicted_value"]) == 384


def test_stats_count_inferences(ml: Elasticsearch, minilm: str) -> None:
    before = ml.ml.get_trained_models_stats(model_id=minilm)["trained_model_stats"][0]
    ml.ml.infer_trained_model(model_id=minilm, docs=[{"text_field": "one"},
                                                     {"text_field": "two"}])
    stats = ml.ml.get_trained_models_stats(model_id=minilm)["trained_model_stats"][0]
    deployment = stats["deployment_stats"]
    assert deployment["state"] == "started" and deployment["deployment_id"] == minilm
    assert deployment["inference_count"] == before["deployment_stats"]["inference_count"] + 2
    assert deployment["nodes"][0]["routing_state"] == {"routing_state": "started"}
    assert stats["model_size_stats"]["model_size_bytes"] > 80_000_000


def test_all_and_wildcards_list_the_model(ml: Elasticsearch, minilm: str) -> None:
    for expression in ("_all", "*", "mini*", f"{minilm},nothing*"):
        configs = ml.ml.get_trained_models(model_id=expression)["trained_model_configs"]
        assert minilm in [c["model_id"] for c in configs]
    stats = ml.ml.get_trained_models_stats(model_id="_all")["trained_model_stats"]
    assert minilm in [s["model_id"] for s in stats]


def test_xpack_reports_ml_available(ml: Elasticsearch) -> None:
    assert ml.xpack.info()["features"]["ml"] == {"available": True, "enabled": True}
    assert ml.ml.info()["upgrade_mode"] is False
