"""The one query-vector cache: an ask, an evaluation and the playground each embed a text once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_rag.embedding.cache import ClusterVectorCache, VectorCache, memoise, through_memo


class CountingEmbedder:
    """Vectors from text lengths; counts what reaches the model."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.passages: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return [float(len(text)), 1.0]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.passages.extend(texts)
        return [[float(len(t)), 0.0] for t in texts]


class ClusterModel(CountingEmbedder):
    def query_vector_builder(self, text: str) -> dict[str, Any]:
        return {"text_embedding": {"model_id": "m", "model_text": text}}


def test_an_ask_embeds_each_query_and_passage_once() -> None:
    model = CountingEmbedder()
    memo = memoise(model)
    assert isinstance(memo, VectorCache)
    assert memo.embed_query("why?") == memo.embed_query("why?") == [4.0, 1.0]
    memo.embed_documents(["a", "bb"])
    assert memo.embed_documents(["bb", "ccc", "a"]) == [[2.0, 0.0], [3.0, 0.0], [1.0, 0.0]]
    assert model.queries == ["why?"]
    assert model.passages == ["a", "bb", "ccc"]
    assert through_memo(model, memo) is memo
    assert through_memo(CountingEmbedder(), memo) is not memo


def test_the_playground_keeps_only_its_recent_queries_and_never_caches_passages() -> None:
    model = CountingEmbedder()
    recent = VectorCache(model, size=2, passages=False)
    for text in ["one", "two", "one", "three", "two"]:
        recent.embed_query(text)
    assert model.queries == ["one", "two", "three", "two"]  # "two" was the oldest when evicted
    recent.embed_documents(["x"])
    recent.embed_documents(["x"])
    assert model.passages == ["x", "x"]


def test_a_cluster_model_keeps_sending_its_query_vector_builder() -> None:
    memo = memoise(ClusterModel())
    assert isinstance(memo, ClusterVectorCache)
    assert memo.query_vector_builder("q") == {"text_embedding": {"model_id": "m",
                                                                 "model_text": "q"}}
