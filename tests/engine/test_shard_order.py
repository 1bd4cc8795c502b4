"""Ties among equal scores follow Elasticsearch's shard order on multi-shard indices."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from es_rag.engine.search.shard_order import murmur3_32, routing_num_shards, shard_of


def test_murmur3_matches_the_reference_vectors() -> None:
    assert murmur3_32(b"") == 0
    assert murmur3_32(b"hello") & 0xFFFFFFFF == 0x248BFA47
    assert murmur3_32(b"The quick brown fox jumps over the lazy dog") & 0xFFFFFFFF == 0x2E4FF723
    assert murmur3_32(b"abc", seed=1) != murmur3_32(b"abc")


def test_routing_shards_and_shard_ids() -> None:
    assert [routing_num_shards(n) for n in (1, 2, 5, 30)] == [1024, 1024, 640, 960]
    assert shard_of("anything", 1) == 0
    assert [shard_of(i, 5) for i in ("1", "2", "3")] == [4, 3, 0]
    assert all(0 <= shard_of(str(i), 7) < 7 for i in range(200))


def _tied(es: Elasticsearch, shards: int) -> list[str]:
    es.indices.create(index="ties", settings={"number_of_shards": shards}, mappings={
        "properties": {"v": {"type": "dense_vector", "dims": 1, "similarity": "l2_norm"}}})
    for doc_id, value in (("1", 0.0), ("2", 1.0), ("3", 2.0)):
        es.index(index="ties", id=doc_id, document={"v": [value]})
    es.indices.refresh(index="ties")
    resp = es.search(index="ties", knn={"field": "v", "query_vector": [1.0], "k": 3,
                                        "num_candidates": 3})
    return [h["_id"] for h in resp["hits"]["hits"]]


def test_equal_knn_scores_are_ordered_by_shard_then_indexing_order(es: Elasticsearch) -> None:
    assert _tied(es, 1) == ["2", "1", "3"]  # one shard: indexing order
    es.indices.delete(index="ties")
    assert _tied(es, 5) == ["2", "3", "1"]  # "3" lives on shard 0, "1" on shard 4
