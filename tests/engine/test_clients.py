"""Both official client majors (8.x and 9.x) work against the engine unchanged."""

from __future__ import annotations

import importlib

import elasticsearch
import elasticsearch8
import pytest

from es_rag.engine.server import EngineServer


@pytest.mark.parametrize("module", [elasticsearch, elasticsearch8], ids=["client-9", "client-8"])
def test_smoke_with_each_client_major(engine: EngineServer, module) -> None:
    client = module.Elasticsearch(engine.url, request_timeout=30)
    index = f"smoke-{module.__name__}"
    try:
        assert client.info()["version"]["number"].startswith("9.")
        client.indices.create(index=index, mappings={"properties": {
            "text": {"type": "text"},
            "vec": {"type": "dense_vector", "dims": 2, "similarity": "cosine"}}})
        helpers = importlib.import_module(f"{module.__name__}.helpers")
        ok, _ = helpers.bulk(client, [
            {"_index": index, "_id": "1", "text": "red apples", "vec": [1.0, 0.0]},
            {"_index": index, "_id": "2", "text": "green pears", "vec": [0.0, 1.0]}],
            refresh=True)
        assert ok == 2
        assert client.indices.exists(index=index)
        hits = client.search(index=index, query={"match": {"text": "apples"}})["hits"]["hits"]
        assert [h["_id"] for h in hits] == ["1"]
        knn = client.search(index=index, knn={"field": "vec", "query_vector": [0.1, 1.0],
                                              "k": 1, "num_candidates": 2})
        assert knn["hits"]["hits"][0]["_id"] == "2"
        with pytest.raises(module.NotFoundError):
            client.get(index=index, id="missing")
    finally:
        client.options(ignore_status=404).indices.delete(index=index)
        client.close()
