"""kNN: HNSW recall against exact search, filtered kNN, Elasticsearch scores, hybrid, RRF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from elasticsearch import AuthorizationException, BadRequestError, Elasticsearch
from elasticsearch.helpers import bulk

from es_rag.engine.index.vectors import VectorField


def clustered(n: int, dims: int, seed: int = 7) -> np.ndarray:
    """Vectors around 25 centres (random uniform vectors would make any HNSW look broken)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(25, dims))
    data = centres[rng.integers(0, 25, n)] + 0.3 * rng.normal(size=(n, dims))
    return data.astype(np.float32)


def test_hnsw_recall_against_exact_search(tmp_path: Path) -> None:
    data = clustered(6000, 24)
    field = VectorField(tmp_path, "v", {"dims": 24, "similarity": "cosine"})
    for key, vector in enumerate(data):
        field.add(key, vector)
    field.refresh(len(data) - 1)
    while field.build_some():
        pass
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    recalls = []
    rng = np.random.default_rng(11)
    for query in data[rng.integers(0, len(data), 50)] + 0.3 * rng.normal(size=(50, 24)):
        exact = set(np.argsort(-(unit @ (query / np.linalg.norm(query))))[:10].tolist())
        found = {key for key, _ in field.search(query, 10, 100)}
        recalls.append(len(found & exact) / 10)
    field.close()
    assert np.mean(recalls) >= 0.95


def test_vectors_are_searchable_before_the_graph_is_built(tmp_path: Path) -> None:
    field = VectorField(tmp_path, "v", {"dims": 2, "similarity": "l2_norm"})
    field._stop = True  # no background builder: everything stays staged
    field.add(1, np.array([0.0, 0.0], dtype=np.float32))
    field.add(2, np.array([3.0, 4.0], dtype=np.float32))
    field.refresh(2)
    assert field.search(np.array([3.0, 4.0]), 1, 10) == [(2, 1.0)]
    field.delete(2)
    field.refresh(3)
    assert [key for key, _ in field.search(np.array([3.0, 4.0]), 2, 10)] == [1]


@pytest.fixture
def images(es: Elasticsearch) -> tuple[Elasticsearch, np.ndarray]:
    data = clustered(300, 8)
    es.indices.create(index="images", mappings={"properties": {
        "caption": {"type": "text"}, "group": {"type": "keyword"},
        "vec": {"type": "dense_vector", "dims": 8, "similarity": "cosine"},
        "l2": {"type": "dense_vector", "dims": 8, "similarity": "l2_norm"}}})
    bulk(es, ({"_index": "images", "_id": str(i), "caption": f"image number {i}",
               "group": "rare" if i % 25 == 0 else "common", "vec": v.tolist(),
               "l2": v.tolist()} for i, v in enumerate(data)), refresh=True)
    return es, data


def test_knn_scores_are_elasticsearch_scores(images: tuple[Elasticsearch, np.ndarray]) -> None:
    es, data = images
    query = data[5] + 0.01
    hits = es.search(index="images", knn={"field": "vec", "query_vector": query.tolist(),
                                         "k": 3, "num_candidates": 50})["hits"]["hits"]
    assert hits[0]["_id"] == "5"
    cos = float(query @ data[5] / (np.linalg.norm(query) * np.linalg.norm(data[5])))
    assert hits[0]["_score"] == pytest.approx((1 + cos) / 2, rel=1e-5)
    hits = es.search(index="images", knn={"field": "l2", "query_vector": query.tolist(),
                                         "k": 1, "num_candidates": 50})["hits"]["hits"]
    dist2 = float(((query - data[5]) ** 2).sum())
    assert hits[0]["_score"] == pytest.approx(1 / (1 + dist2), rel=1e-4)


def test_filtered_knn_returns_k_matching_hits(images: tuple[Elasticsearch, np.ndarray]) -> None:
    es, data = images
    result = es.search(index="images", size=10, knn={
        "field": "vec", "query_vector": data[1].tolist(), "k": 10, "num_candidates": 20,
        "filter": {"term": {"group": "rare"}}})
    hits = result["hits"]["hits"]
    assert len(hits) == 10
    assert all(int(h["_id"]) % 25 == 0 for h in hits)
    as_query = es.search(index="images", size=10, query={"knn": {
        "field": "vec", "query_vector": data[1].tolist(), "k": 10, "num_candidates": 20,
        "filter": {"term": {"group": "rare"}}}})
    assert [h["_id"] for h in as_query["hits"]["hits"]] == [h["_id"] for h in hits]


def test_hybrid_without_rank_sums_scores(images: tuple[Elasticsearch, np.ndarray]) -> None:
    es, data = images
    query = {"match": {"caption": "7"}}
    knn = {"field": "vec", "query_vector": data[7].tolist(), "k": 5, "num_candidates": 50}
    bm25 = es.search(index="images", query=query)["hits"]["hits"][0]["_score"]
    vector = es.search(index="images", knn=knn)["hits"]["hits"][0]["_score"]
    both = es.search(index="images", query=query, knn=knn)["hits"]["hits"][0]
    assert both["_id"] == "7"
    assert both["_score"] == pytest.approx(bm25 + vector, rel=1e-5)


def test_rrf_fusion_order(images: tuple[Elasticsearch, np.ndarray]) -> None:
    es, data = images
    query = {"match": {"caption": "image number 12 120 3"}}
    knn = {"field": "vec", "query_vector": data[3].tolist(), "k": 20, "num_candidates": 50}
    text_ids = [h["_id"] for h in es.search(index="images", query=query, size=20)["hits"]["hits"]]
    knn_ids = [h["_id"] for h in es.search(index="images", knn=knn, size=20)["hits"]["hits"]]
    fused: dict[str, float] = {}
    for ranking in (text_ids, knn_ids):
        for rank, doc_id in enumerate(ranking, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1 / (60 + rank)
    expected = sorted(fused.items(), key=lambda p: -p[1])[:10]
    result = es.search(index="images", size=10, retriever={"rrf": {
        "retrievers": [{"standard": {"query": query}}, {"knn": knn}],
        "rank_window_size": 20, "rank_constant": 60}})
    got = [(h["_id"], h["_score"]) for h in result["hits"]["hits"]]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected])
    assert got[0][0] == "3"
    legacy = es.search(index="images", size=10, query=query, knn=knn,
                       rank={"rrf": {"rank_window_size": 20}})
    assert [h["_id"] for h in legacy["hits"]["hits"]] == [i for i, _ in got]


def test_rrf_is_refused_under_a_basic_license(images: tuple[Elasticsearch, np.ndarray]) -> None:
    es, data = images
    es.license.post_start_basic(acknowledge=True)
    try:
        with pytest.raises(AuthorizationException) as err:
            es.search(index="images", retriever={"rrf": {"retrievers": [
                {"standard": {"query": {"match_all": {}}}},
                {"knn": {"field": "vec", "query_vector": data[0].tolist(), "k": 1,
                         "num_candidates": 5}}]}})
        assert err.value.error == "security_exception"
        assert "non-compliant for [Reciprocal Rank Fusion (RRF)]" in str(err.value)
    finally:
        es.license.post_start_trial(acknowledge=True)


def test_wrong_query_vector_dimensions(images: tuple[Elasticsearch, np.ndarray]) -> None:
    es, _ = images
    with pytest.raises(BadRequestError) as err:
        es.search(index="images", knn={"field": "vec", "query_vector": [1.0, 2.0], "k": 1,
                                       "num_candidates": 5})
    assert "different number of dimensions [2]" in str(err.value)


def _brute_force(data: dict[int, np.ndarray], query: np.ndarray, k: int) -> list[int]:
    keys = sorted(data)
    matrix = np.stack([data[key] for key in keys])
    cos = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    return [keys[i] for i in np.argsort(-cos, kind="stable")[:k]]


def test_staged_vectors_deletes_filters_and_partial_builds(tmp_path: Path) -> None:
    data = clustered(9000, 16, seed=3)
    field = VectorField(tmp_path, "v", {"dims": 16, "similarity": "cosine"})
    field._stop = True  # the test moves vectors into the graph itself
    visible: dict[int, np.ndarray] = {}
    rng = np.random.default_rng(5)
    queries = data[rng.integers(0, len(data), 5)] + 0.1 * rng.normal(size=(5, 16))

    def check() -> None:  # past 4,000 vectors: staged ones exactly, the graph with a high ef
        allowed = {key for key in visible if key % 3}
        for query in queries:
            found = [key for key, _ in field.search(query, 10, 2000)]
            assert found == _brute_force(visible, query, 10)
            hits = field.search(query, 10, 2000, allowed)
            assert [key for key, _ in hits] == \
                _brute_force({key: visible[key] for key in allowed}, query, 10)

    for start in range(0, 9000, 3000):  # three refreshes, partly built in between
        for key in range(start, start + 3000):
            field.add(key, data[key])
            visible[key] = data[key]
        for key in range(start, start + 3000, 7):  # deleted before the refresh
            field.delete(key)
            visible.pop(key)
        field.refresh(start + 2999)
        check()
        for _ in range(5):
            field.build_some()
        for key in list(visible)[::11]:  # deleted in the graph and in the staging matrix
            field.delete(key)
            visible.pop(key)
        field.refresh(start + 3000)
        check()
    assert field.staging.count > field.staging.head  # some vectors still staged
    field.save()
    reopened = VectorField(tmp_path, "v", {"dims": 16, "similarity": "cosine"})
    assert reopened.checkpoint == int(field.staging.keys[field.staging.head]) - 1
    reopened.close()
    while field.build_some():
        pass
    check()
    field.close()
