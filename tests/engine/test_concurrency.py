"""Several clients writing and searching at the same time."""

from __future__ import annotations

import threading

from elasticsearch import Elasticsearch

from es_rag.engine.server import EngineServer


def test_parallel_writers_and_searchers(engine: EngineServer, es: Elasticsearch) -> None:
    es.indices.create(index="shared", mappings={"properties": {
        "text": {"type": "text"}, "writer": {"type": "keyword"},
        "vec": {"type": "dense_vector", "dims": 3, "similarity": "l2_norm"}}})
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        client = Elasticsearch(engine.url)
        try:
            for i in range(40):
                client.index(index="shared", id=f"{writer}-{i}", document={
                    "text": f"note {i} from writer {writer}", "writer": str(writer),
                    "vec": [writer, i, 1.0]})
                if i % 10 == 0:
                    client.search(index="shared", query={"match": {"text": "note"}},
                                  knn={"field": "vec", "query_vector": [writer, i, 1.0],
                                       "k": 3, "num_candidates": 10})
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    def search() -> None:
        client = Elasticsearch(engine.url)
        try:
            for _ in range(30):
                client.search(index="shared", query={"match": {"text": "writer"}},
                              aggs={"w": {"terms": {"field": "writer"}}})
                client.count(index="shared")
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=search) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    es.indices.refresh(index="shared")
    assert es.count(index="shared")["count"] == 160
    buckets = es.search(index="shared", size=0, aggs={"w": {"terms": {"field": "writer"}}})
    assert {b["key"]: b["doc_count"] for b in buckets["aggregations"]["w"]["buckets"]} == {
        "0": 40, "1": 40, "2": 40, "3": 40}
