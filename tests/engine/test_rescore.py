"""`rescore`: the top window re-ranked by a second query, with Elasticsearch's weights."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def passages(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="passages", mappings={"properties": {"text": {"type": "text"}}})
    texts = {"1": "solar panels on the roof", "2": "the roof of the solar house",
             "3": "panels of solar cells", "4": "wind and solar"}
    for doc_id, text in texts.items():
        es.index(index="passages", id=doc_id, document={"text": text})
    es.indices.refresh(index="passages")
    return es


def _scores(es: Elasticsearch, **body: object) -> dict[str, float]:
    resp = es.search(index="passages", query={"match": {"text": "solar"}}, **body)
    return {h["_id"]: h["_score"] for h in resp["hits"]["hits"]}


def test_rescore_adds_the_weighted_rescore_query_score(passages: Elasticsearch) -> None:
    plain = _scores(passages)
    phrase = {h["_id"]: h["_score"] for h in passages.search(
        index="passages", query={"match_phrase": {"text": "solar panels"}})["hits"]["hits"]}
    assert set(phrase) == {"1"}
    resp = passages.search(index="passages", query={"match": {"text": "solar"}}, rescore={
        "window_size": 10, "query": {"rescore_query": {"match_phrase": {"text": "solar panels"}},
                                     "query_weight": 0.5, "rescore_query_weight": 2}})
    hits = resp["hits"]["hits"]
    assert hits[0]["_id"] == "1"
    scores = {h["_id"]: h["_score"] for h in hits}
    assert scores["1"] == pytest.approx(0.5 * plain["1"] + 2 * phrase["1"], rel=1e-5)
    assert scores["4"] == pytest.approx(0.5 * plain["4"], rel=1e-5)
    assert resp["hits"]["max_score"] == pytest.approx(scores["1"])


@pytest.mark.parametrize("mode, combine", [
    ("multiply", lambda p, s: p * s), ("max", max), ("min", min),
    ("avg", lambda p, s: (p + s) / 2),
])
def test_score_modes(passages: Elasticsearch, mode: str, combine: object) -> None:
    plain = _scores(passages)
    rescored = _scores(passages, rescore={"query": {
        "rescore_query": {"constant_score": {"filter": {"match": {"text": "roof"}},
                                             "boost": 3.0}}, "score_mode": mode}})
    assert rescored["1"] == pytest.approx(combine(plain["1"], 3.0), rel=1e-5)
    assert rescored["3"] == pytest.approx(plain["3"], rel=1e-5)  # no match: score kept


def test_only_the_window_is_rescored(passages: Elasticsearch) -> None:
    plain = passages.search(index="passages", query={"match": {"text": "solar"}})["hits"]["hits"]
    last = plain[-1]["_id"]
    resp = passages.search(index="passages", query={"match": {"text": "solar"}}, rescore={
        "window_size": 1, "query": {"rescore_query": {"ids": {"values": [last]}},
                                    "rescore_query_weight": 100}})
    assert resp["hits"]["hits"][-1]["_id"] == last  # below the window: not boosted


@pytest.mark.parametrize("body, message", [
    ({"rescore": {"window_size": 10001, "query": {"rescore_query": {"match_all": {}}}}},
     "Rescore window [10001] is too large. It must be less than [10000]."),
    ({"rescore": {"query": {"rescore_query": {"match_all": {}}}}, "sort": ["_doc"]},
     "Cannot use [sort] option in conjunction with [rescore]."),
    ({"rescore": {"query": {"rescore_query": {"match_all": {}}}},
      "collapse": {"field": "text"}}, "cannot use `collapse` in conjunction with `rescore`"),
    ({"rescore": {"query": {"rescore_query": {"match_all": {}}, "score_mode": "sum"}}},
     "illegal score_mode [sum]"),
])
def test_refused_rescores(passages: Elasticsearch, body: dict, message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        passages.search(index="passages", body=body)
    assert message in str(err.value.body)

