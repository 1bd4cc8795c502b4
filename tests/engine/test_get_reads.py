"""Reading one document: realtime, refresh, routing and a disabled `_source` (get, exists,
get_source, exists_source, mget), as Elasticsearch answers them."""

from __future__ import annotations

import warnings

import pytest
from elasticsearch import Elasticsearch, NotFoundError


def test_realtime_false_reads_what_the_last_refresh_made_visible(es: Elasticsearch) -> None:
    es.indices.create(index="notes", settings={"refresh_interval": -1})
    es.index(index="notes", id="1", document={"text": "draft"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "accepts but ignores [realtime]" warning
        assert not es.exists(index="notes", id="1", realtime=False)
        assert not es.exists_source(index="notes", id="1", realtime=False)
        with pytest.raises(NotFoundError):
            es.get(index="notes", id="1", realtime=False)
        with pytest.raises(NotFoundError):
            es.get_source(index="notes", id="1", realtime=False)
        assert es.mget(index="notes", ids=["1"], realtime=False)["docs"][0]["found"] is False
        # real-time reads (the default) see the acknowledged write
        assert es.get(index="notes", id="1")["_source"] == {"text": "draft"}
        assert es.mget(index="notes", ids=["1"])["docs"][0]["found"] is True
        # refresh=true refreshes before reading
        assert es.get_source(index="notes", id="1", realtime=False, refresh=True) == \
            {"text": "draft"}
        assert es.mget(index="notes", ids=["1"], realtime=False)["docs"][0]["found"] is True


def test_a_get_looks_in_the_shard_its_routing_picks(es: Elasticsearch) -> None:
    es.indices.create(index="routed", settings={"number_of_shards": 5})
    es.index(index="routed", id="1", routing="5", document={"foo": "bar"})
    assert es.get_source(index="routed", id="1", routing="5") == {"foo": "bar"}
    assert es.get(index="routed", id="1", routing="5")["_routing"] == "5"
    # id "1" and routing "5" route to different shards of five: not found without the routing
    with pytest.raises(NotFoundError):
        es.get_source(index="routed", id="1")
    assert not es.exists(index="routed", id="1")
    docs = es.mget(index="routed", docs=[{"_id": "1"}, {"_id": "1", "routing": "5"}])["docs"]
    assert [d["found"] for d in docs] == [False, True]


def test_a_disabled_source_is_not_returned(es: Elasticsearch) -> None:
    es.indices.create(index="nosource", mappings={"_source": {"enabled": False},
                                                  "properties": {"foo": {"type": "text"}}})
    es.index(index="nosource", id="1", document={"foo": "bar"}, refresh=True)
    got = es.get(index="nosource", id="1")
    assert got["found"] is True and "_source" not in got
    with pytest.raises(NotFoundError) as err:
        es.get_source(index="nosource", id="1")
    assert err.value.body["error"]["reason"] == "Source not found [nosource]/[1]"
    hits = es.search(index="nosource", query={"match": {"foo": "bar"}})["hits"]["hits"]
    assert len(hits) == 1 and "_source" not in hits[0]
