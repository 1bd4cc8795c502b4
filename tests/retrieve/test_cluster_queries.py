"""With embedding = cluster, every kNN leg asks the cluster to embed the query; the settings and
the uploaded model's config say so in Elasticsearch's own terms."""

from __future__ import annotations

import pytest

from es_rag.config import ConfigError, load_settings, trained_model_id
from es_rag.embedding.cluster_upload import model_config
from es_rag.retrieve import SearchParams, template_params
from es_rag.retrieve.queries import knn_body, leg_bodies, rank_rrf_body, retriever_body

BUILDER = {"text_embedding": {"model_id": "minilm", "model_text": "what is rrf?"}}


def test_every_hybrid_body_carries_the_query_vector_builder_and_no_vector() -> None:
    params = SearchParams(mode="hybrid", size=5, filters=["metadata.lang=en"])
    knn_clauses = [
        retriever_body("what is rrf?", BUILDER, params)["retriever"]["rrf"]["retrievers"][1]
        ["knn"],
        rank_rrf_body("what is rrf?", BUILDER, params)["knn"],
        leg_bodies("what is rrf?", BUILDER, params)[1]["knn"],
        knn_body("what is rrf?", BUILDER, SearchParams(mode="knn"))["knn"],
    ]
    for clause in knn_clauses:
        assert clause["query_vector_builder"] == BUILDER
        assert "query_vector" not in clause
        assert clause["field"] == "embedding" and clause["k"] >= 5
    assert knn_clauses[0]["filter"] == {"bool": {"filter": [{"term": {"metadata.lang": "en"}}]}}
    assert knn_body("q", [0.5, 0.5], SearchParams(mode="knn"))["knn"]["query_vector"] == [0.5,
                                                                                          0.5]


def test_template_params_name_the_model_instead_of_a_vector() -> None:
    params = template_params("what is rrf?", SearchParams(mode="hybrid"), BUILDER)
    assert params["model_id"] == "minilm" and "query_vector" not in params
    assert params["query"] == "what is rrf?" and params["k"] == 100
    with_vector = template_params("q", SearchParams(mode="hybrid"), [0.1, 0.2])
    assert with_vector["query_vector"] == [0.1, 0.2] and "model_id" not in with_vector
    with pytest.raises(ValueError, match="text_embedding only"):
        template_params("q", SearchParams(mode="hybrid"), {"other_builder": {}})


def test_embedding_settings_are_checked_with_clear_messages() -> None:
    settings = load_settings(env={"ES_RAG_EMBEDDING": "cluster"})
    assert settings.embedding == "cluster"
    assert settings.cluster_model_id == "sentence-transformers__all-minilm-l6-v2"
    assert load_settings(env={}).embedding == "local"
    chosen = load_settings(env={"ES_RAG_EMBEDDING_MODEL_ID": "my-e5.v2"})
    assert chosen.cluster_model_id == "my-e5.v2"
    with pytest.raises(ConfigError, match="ES_RAG_EMBEDDING: 'remote' is not one of local, "
                                          "cluster"):
        load_settings(env={"ES_RAG_EMBEDDING": "remote"})
    with pytest.raises(ConfigError, match="ES_RAG_EMBEDDING_MODEL_ID: 'My Model' is not a "
                                          "valid trained model id"):
        load_settings(env={"ES_RAG_EMBEDDING_MODEL_ID": "My Model"})
    with pytest.raises(ConfigError, match="longer than 64 characters"):
        load_settings(env={"ES_RAG_EMBEDDING_MODEL_ID": "m" * 65})
    with pytest.raises(ConfigError, match="derived from embedding_model .* set "
                                          "embedding_model_id"):
        load_settings(env={"ES_RAG_EMBEDDING": "cluster", "ES_RAG_EMBEDDING_MODEL": "a:b"})


def test_trained_model_ids_are_derived_as_eland_derives_them() -> None:
    assert trained_model_id("sentence-transformers/all-MiniLM-L6-v2") == \
        "sentence-transformers__all-minilm-l6-v2"
    assert trained_model_id("BAAI/bge-small-en-v1.5") == "baai__bge-small-en-v1.5"
    assert trained_model_id("/models/My-E5") == "models__my-e5"


def test_the_model_config_maps_prompts_to_prefix_strings() -> None:
    config = model_config(description="e5", do_lower_case=True, max_sequence_length=512,
                          embedding_size=384, prompts={"query": "query: ", "passage": "passage: "})
    assert config["prefix_strings"] == {"ingest": "passage: ", "search": "query: "}
    assert config["inference_config"] == {"text_embedding": {
        "tokenization": {"bert": {"do_lower_case": True, "max_sequence_length": 512}},
        "embedding_size": 384}}
    assert config["model_type"] == "pytorch" and config["input"] == {"field_names": ["text_field"]}
    plain = model_config(description="minilm", do_lower_case=True, max_sequence_length=256,
                         embedding_size=384, prompts={})
    assert "prefix_strings" not in plain
