"""The request bodies of the chunk index with embedding = semantic_text, and of reranking in the
cluster: what es-rag sends, as Elasticsearch's retrievers expect it."""

from __future__ import annotations

import pytest

from es_rag.config import ConfigError, load_settings
from es_rag.embedding.semantic_text import SemanticTextEmbedder
from es_rag.retrieve import queries
from es_rag.retrieve.params import SearchParams

LAYOUT = queries.SemanticChunkLayout("text_semantic")


def test_the_vector_leg_is_a_semantic_query_with_the_filters() -> None:
    params = SearchParams.from_cli(mode="hybrid", filters=["mime_type=text/markdown"],
                                   fusion="linear", normalizer="minmax")
    body = queries.linear_body("how is RRF computed", [], params, LAYOUT)
    legs = [leg["retriever"] for leg in body["retriever"]["linear"]["retrievers"]]
    assert "multi_match" in str(legs[0]["standard"]["query"])
    semantic = legs[1]["standard"]["query"]["bool"]
    assert semantic["must"] == [{"semantic": {"field": "text_semantic",
                                              "query": "how is RRF computed"}}]
    assert semantic["filter"] == [{"term": {"mime_type": "text/markdown"}}]
    # neither the vectors nor the semantic_text copy come back in _source
    assert body["_source"] == {"excludes": ["embedding", "text_semantic"]}
    knn_only = queries.knn_body("q", [], SearchParams.from_cli(mode="knn"), layout=LAYOUT)
    assert knn_only["query"] == {"semantic": {"field": "text_semantic", "query": "q"}}
    assert "knn" not in knn_only


def test_reranking_in_the_cluster_wraps_the_fusion_retriever() -> None:
    params = SearchParams.from_cli(mode="hybrid+rerank")
    body = queries.retriever_body("q", [0.1, 0.2], params)
    fusion = body["retriever"]
    queries.reranked(body, "q", "my-reranker", 12)
    assert body["retriever"] == {"text_similarity_reranker": {
        "retriever": fusion, "field": "text", "inference_id": "my-reranker",
        "inference_text": "q", "rank_window_size": 12}}


def test_semantic_text_embedding_is_a_setting_with_a_pinned_endpoint(tmp_path) -> None:
    settings = load_settings(env={"ES_RAG_EMBEDDING": "semantic_text",
                                  "ES_RAG_SEMANTIC_INFERENCE_ID": "team-e5"})
    assert (settings.embedding, settings.semantic_inference_id) == ("semantic_text", "team-e5")
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"ES_RAG_EMBEDDING": "semantic"})
    assert "local, cluster, semantic_text" in str(refused.value)
    embedder = SemanticTextEmbedder("team-e5", local=None)  # type: ignore[arg-type]
    assert embedder.model_name == "semantic_text:team-e5"  # ingest re-runs when it changes
    assert embedder.semantic_field == "text_semantic"
