"""The knn query collects `num_candidates` per shard, as on an index with several shards."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from es_rag.engine.search.shard_order import shard_of


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_matches_are_the_top_candidates_of_every_shard(es: Elasticsearch, shards: int) -> None:
    es.indices.create(index="vecs", settings={"number_of_shards": shards}, mappings={
        "properties": {"v": {"type": "dense_vector", "dims": 2, "similarity": "l2_norm"}}})
    ids = [str(i) for i in range(20)]
    for i in ids:
        es.index(index="vecs", id=i, document={"v": [float(i), 0.0]})
    es.indices.refresh(index="vecs")
    resp = es.search(index="vecs", size=20, query={"knn": {
        "field": "v", "query_vector": [0, 0], "num_candidates": 3}})
    got = {h["_id"] for h in resp["hits"]["hits"]}
    expected = set()
    for shard in range(shards):  # the 3 nearest (smallest i) routed to each shard
        expected |= set([i for i in ids if shard_of(i, shards) == shard][:3])
    assert resp["hits"]["total"]["value"] == 3 * shards
    assert got == expected
