"""The `ip` field type: IPv4 and IPv6 addresses, term and terms queries with CIDR blocks,
ranges, terms aggregations and Elasticsearch's errors for malformed addresses."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch

ADDRESSES = {"a": "10.0.0.1", "b": "10.0.0.5", "c": "192.168.1.1", "d": "::1",
             "e": "2001:db8::1"}


@pytest.fixture
def hosts(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="hosts", mappings={"properties": {"ip": {"type": "ip"}}})
    for doc_id, ip in ADDRESSES.items():
        es.index(index="hosts", id=doc_id, document={"ip": ip})
    es.indices.refresh(index="hosts")
    return es


def found(es: Elasticsearch, query: dict) -> list[str]:
    return sorted(hit["_id"] for hit in es.search(index="hosts", query=query)["hits"]["hits"])


def test_addresses_and_cidr_blocks_match(hosts: Elasticsearch) -> None:
    assert found(hosts, {"term": {"ip": "10.0.0.1"}}) == ["a"]
    assert found(hosts, {"term": {"ip": "0:0:0:0:0:0:0:1"}}) == ["d"]  # any IPv6 spelling
    assert found(hosts, {"term": {"ip": "10.0.0.0/8"}}) == ["a", "b"]
    assert found(hosts, {"terms": {"ip": ["192.168.0.0/16", "2001:db8::/32", "10.0.0.5"]}}
                 ) == ["b", "c", "e"]
    assert found(hosts, {"range": {"ip": {"gt": "10.0.0.1", "lte": "192.168.1.1"}}}
                 ) == ["b", "c"]
    assert found(hosts, {"exists": {"field": "ip"}}) == sorted(ADDRESSES)


def test_terms_aggregation_keys_are_addresses(hosts: Elasticsearch) -> None:
    buckets = hosts.search(index="hosts", size=0, aggs={"ips": {"terms": {"field": "ip"}}}
                           )["aggregations"]["ips"]["buckets"]
    assert {b["key"] for b in buckets} == set(ADDRESSES.values())


def test_malformed_addresses_are_refused(hosts: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        hosts.index(index="hosts", id="bad", document={"ip": "10.0.0.256"})
    assert err.value.error == "document_parsing_exception"
    assert err.value.body["error"]["caused_by"]["reason"] == \
        "'10.0.0.256' is not an IP string literal."
    with pytest.raises(BadRequestError, match="is not an IP string literal"):
        hosts.search(index="hosts", query={"term": {"ip": "somewhere"}})
    hosts.indices.create(index="lenient", mappings={"properties": {
        "ip": {"type": "ip", "ignore_malformed": True}}})
    hosts.index(index="lenient", id="1", document={"ip": "nowhere"}, refresh=True)
    assert hosts.count(index="lenient", query={"exists": {"field": "ip"}})["count"] == 0


def test_sorting_orders_addresses_numerically(hosts: Elasticsearch) -> None:
    hosts.index(index="hosts", id="f", document={"ip": "9.255.0.1"}, refresh=True)
    response = hosts.search(index="hosts", sort=[{"ip": "asc"}], size=10)
    # IPv4 addresses are mapped into IPv6 (::ffff:a.b.c.d), as Elasticsearch orders them
    assert [h["sort"] for h in response["hits"]["hits"]] == [
        ["::1"], ["9.255.0.1"], ["10.0.0.1"], ["10.0.0.5"], ["192.168.1.1"], ["2001:db8::1"]]
    after = hosts.search(index="hosts", sort=[{"ip": "asc"}], search_after=["10.0.0.1"])
    assert [h["_id"] for h in after["hits"]["hits"]] == ["b", "c", "e"]
