"""Document-level security holds in aggregations and suggestions: a user whose role admits
only the red team's documents counts, samples, ranks and completes from those alone (the
background of significant_terms and the `global` bucket included)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch, helpers

from es_rag.engine.server import EngineServer

PASSWORD = "aggs-admin-pw"
INDEX = "team-notes"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EngineServer(tmp_path_factory.mktemp("aggs-dls"), port=0,
                          elastic_password=PASSWORD).start()
    admin = Elasticsearch(server.url, basic_auth=("elastic", PASSWORD), request_timeout=30)
    admin.indices.create(index=INDEX, mappings={"properties": {
        "team": {"type": "keyword"}, "tag": {"type": "keyword"}, "score": {"type": "integer"},
        "body": {"type": "text"}, "title": {"type": "completion"}}})
    helpers.bulk(admin, ({"_index": INDEX, "_id": str(n), "team": "red" if n < 4 else "blue",
                          "tag": "secret" if n >= 4 else "open", "score": n * 10,
                          "body": "budget" if n >= 4 else "bucket",
                          "title": f"plan {n}"} for n in range(10)), refresh=True)
    admin.security.put_role(name="red-reader", indices=[{
        "names": [INDEX], "privileges": ["read"], "query": {"term": {"team": "red"}}}])
    admin.security.put_user(username="reda", password="reda-password", roles=["red-reader"])
    admin.close()
    yield server.url
    server.stop()


def test_a_restricted_user_aggregates_over_permitted_documents_only(engine: str) -> None:
    reda = Elasticsearch(engine, basic_auth=("reda", "reda-password"), request_timeout=30)
    resp = reda.search(index=INDEX, size=0, query={"term": {"tag": "open"}}, aggs={
        "all": {"global": {}},
        "secret": {"filter": {"term": {"tag": "secret"}}},
        "by_tag": {"filters": {"filters": {"open": {"term": {"tag": "open"}}},
                               "other_bucket": True}},
        "scores": {"range": {"field": "score", "ranges": [{"to": 100}]}},
        "median": {"percentiles": {"field": "score", "percents": [50]}},
        "tags": {"significant_terms": {"field": "tag", "min_doc_count": 1}}})
    aggs = resp["aggregations"]
    assert aggs["all"] == {"doc_count": 4}
    assert aggs["secret"] == {"doc_count": 0}
    assert aggs["by_tag"]["buckets"] == {"open": {"doc_count": 4}, "_other_": {"doc_count": 0}}
    assert aggs["scores"]["buckets"][0]["doc_count"] == 4
    assert aggs["median"]["values"] == {"50.0": 15.0}  # of 0, 10, 20, 30
    assert aggs["tags"]["bg_count"] == 4  # the background is what reda may read
    assert aggs["tags"]["buckets"] == []  # `open` is everywhere reda looks


def test_a_restricted_user_is_suggested_permitted_terms_and_documents(engine: str) -> None:
    reda = Elasticsearch(engine, basic_auth=("reda", "reda-password"), request_timeout=30)
    admin = Elasticsearch(engine, basic_auth=("elastic", PASSWORD), request_timeout=30)
    suggest = {"t": {"text": "bucet", "term": {"field": "body"}},
               "c": {"prefix": "plan", "completion": {"field": "title", "size": 10}}}
    seen = admin.search(index=INDEX, size=0, suggest=suggest)["suggest"]
    assert {o["text"] for o in seen["t"][0]["options"]} == {"bucket", "budget"}
    assert len(seen["c"][0]["options"]) == 10
    mine = reda.search(index=INDEX, size=0, suggest=suggest)["suggest"]
    assert mine["t"][0]["options"] == [{"text": "bucket", "score": 0.8, "freq": 4}]
    assert sorted(o["_id"] for o in mine["c"][0]["options"]) == ["0", "1", "2", "3"]
