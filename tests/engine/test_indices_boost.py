"""`indices_boost`: one index's scores multiplied, named by index, alias or pattern."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError


@pytest.fixture
def two_indices(es: Elasticsearch) -> Elasticsearch:
    for name in ("kb-docs", "kb-faq"):
        es.index(index=name, id="1", document={"text": "reset a password"}, refresh=True)
    es.indices.put_alias(index="kb-faq", name="faq")
    return es


def _scores(es: Elasticsearch, boosts: list, **params: object) -> dict[str, float]:
    resp = es.search(index="kb-*", query={"match": {"text": "password"}},
                     indices_boost=boosts, **params)
    return {h["_index"]: h["_score"] for h in resp["hits"]["hits"]}


def test_the_first_matching_entry_multiplies_an_index_scores(two_indices: Elasticsearch
                                                              ) -> None:
    plain = _scores(two_indices, [])
    assert plain["kb-docs"] == pytest.approx(plain["kb-faq"])
    boosted = _scores(two_indices, [{"faq": 3.0}, {"kb-*": 0.5}])
    assert boosted["kb-faq"] == pytest.approx(plain["kb-faq"] * 3.0)
    assert boosted["kb-docs"] == pytest.approx(plain["kb-docs"] * 0.5)


def test_an_unknown_index_is_refused_unless_unavailable_ones_are_ignored(
        two_indices: Elasticsearch) -> None:
    with pytest.raises(NotFoundError, match="no such index"):
        _scores(two_indices, [{"missing": 2.0}])
    assert set(_scores(two_indices, [{"missing": 2.0}], ignore_unavailable=True)) == \
        {"kb-docs", "kb-faq"}


def test_the_object_form_is_refused(two_indices: Elasticsearch) -> None:
    with pytest.raises(BadRequestError, match="indices_boost"):
        two_indices.search(index="kb-*", body={"indices_boost": {"kb-faq": 2.0}})
