"""`_refresh` and `_flush` answer a broadcast's `_shards` as Elasticsearch does on one node:
every shard copy (primaries and replicas) in `total`, the active primaries in `successful`."""

from __future__ import annotations

from elasticsearch import Elasticsearch


def test_refresh_counts_every_shard_copy_and_the_active_primaries(es: Elasticsearch) -> None:
    es.indices.create(index="five", settings={"number_of_shards": 5, "number_of_replicas": 0})
    es.indices.create(index="replicated", settings={"number_of_shards": 2,
                                                    "number_of_replicas": 2})
    es.indices.create(index="expanding", settings={"number_of_shards": 1,
                                                   "auto_expand_replicas": "0-1"})
    assert es.indices.refresh(index="five")["_shards"] == {"total": 5, "successful": 5,
                                                          "failed": 0}
    assert es.indices.refresh(index="replicated")["_shards"] == {"total": 6, "successful": 2,
                                                                "failed": 0}
    assert es.indices.flush(index="expanding")["_shards"] == {"total": 1, "successful": 1,
                                                             "failed": 0}
    assert es.indices.refresh()["_shards"] == {"total": 12, "successful": 8, "failed": 0}
    assert es.indices.refresh(index="nothing*")["_shards"] == {"total": 0, "successful": 0,
                                                              "failed": 0}
