"""The official client's `elasticsearch.helpers` flows run unchanged against the engine with
security on: bulk, streaming_bulk, parallel_bulk, scan (scroll, with and without
preserve_order) and reindex, for an admin and for a user whose role limits what they see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch, helpers

from es_rag.engine.server import EngineServer

PASSWORD = "helpers-admin-pw"
SOURCE = "helper-passages"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EngineServer(tmp_path_factory.mktemp("helpers"), port=0,
                          elastic_password=PASSWORD).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def admin(engine: str) -> Iterator[Elasticsearch]:
    es = Elasticsearch(engine, basic_auth=("elastic", PASSWORD), request_timeout=30)
    ok, errors = helpers.bulk(es, ({"_index": SOURCE, "_id": f"p{n}", "n": n,
                                    "tenant": "acme" if n % 4 == 0 else "globex",
                                    "text": f"passage number {n}"} for n in range(120)),
                              refresh=True)
    assert (ok, errors) == (120, [])
    es.security.put_role(name="acme-reader", indices=[{
        "names": ["helper-*"], "privileges": ["read"], "query": {"term": {"tenant": "acme"}}}])
    es.security.put_role(name="acme-copier", indices=[
        {"names": [SOURCE], "privileges": ["read"], "query": {"term": {"tenant": "acme"}}},
        {"names": ["helper-acme-copy"], "privileges": ["all"]}])
    es.security.put_user(username="acme", password="acme-password", roles=["acme-reader"])
    es.security.put_user(username="copier", password="copier-password", roles=["acme-copier"])
    yield es
    es.close()


def as_user(engine: str, name: str) -> Elasticsearch:
    return Elasticsearch(engine, basic_auth=(name, f"{name}-password"), request_timeout=30)


def test_streaming_and_parallel_bulk_report_each_item(admin: Elasticsearch) -> None:
    actions = [{"_index": "helper-stream", "_id": str(n), "n": n} for n in range(50)]
    actions.append({"_op_type": "create", "_index": "helper-stream", "_id": "0", "n": -1})
    outcomes = list(helpers.streaming_bulk(admin, actions, chunk_size=16,
                                           raise_on_error=False))
    assert sum(ok for ok, _ in outcomes) == 50
    [(ok, failed)] = [o for o in outcomes if not o[0]]
    assert failed["create"]["status"] == 409
    parallel = list(helpers.parallel_bulk(
        admin, ({"_index": "helper-parallel", "_id": str(n), "n": n} for n in range(80)),
        thread_count=2, chunk_size=10))
    assert all(ok for ok, _ in parallel) and len(parallel) == 80
    admin.indices.refresh(index="helper-parallel")
    assert admin.count(index="helper-parallel")["count"] == 80


def test_scan_reads_every_document_once(admin: Elasticsearch) -> None:
    ids = [h["_id"] for h in helpers.scan(admin, index=SOURCE, size=25)]
    assert sorted(ids) == sorted(f"p{n}" for n in range(120))
    ordered = [h["_source"]["n"] for h in helpers.scan(
        admin, index=SOURCE, size=30, preserve_order=True,
        query={"query": {"range": {"n": {"gte": 100}}}, "sort": [{"n": "desc"}]})]
    assert ordered == list(range(119, 99, -1))


def test_scan_as_a_restricted_user_sees_only_permitted_documents(engine: str,
                                                                 admin: Elasticsearch) -> None:
    seen = [h["_source"] for h in helpers.scan(as_user(engine, "acme"), index=SOURCE,
                                               size=7)]
    assert len(seen) == 30 and {s["tenant"] for s in seen} == {"acme"}


def test_helpers_reindex_copies_what_the_user_may_read(engine: str,
                                                       admin: Elasticsearch) -> None:
    copier = as_user(engine, "copier")
    ok, errors = helpers.reindex(copier, SOURCE, "helper-acme-copy", chunk_size=8,
                                 bulk_kwargs={"refresh": True})
    assert ok == 30 and not errors
    copied = admin.search(index="helper-acme-copy", size=0,
                          aggs={"tenants": {"terms": {"field": "tenant.keyword"}}})
    assert copied["hits"]["total"]["value"] == 30
    assert [b["key"] for b in copied["aggregations"]["tenants"]["buckets"]] == ["acme"]
    full, _ = helpers.reindex(admin, SOURCE, "helper-full-copy", query={
        "query": {"range": {"n": {"lt": 10}}}}, bulk_kwargs={"refresh": True})
    assert full == 10
