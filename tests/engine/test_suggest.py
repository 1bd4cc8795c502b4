"""`suggest` in a search: term suggestions scored as Lucene's spell checker scores them, phrase
corrections, completion by prefix and weight, `typed_keys` names, over several indices."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch

MAPPING = {"properties": {"name": {"type": "keyword"}, "bio": {"type": "text"},
                          "title": {"type": "completion"}}}


@pytest.fixture
def bands(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="bands", mappings=MAPPING)
    docs = [{"name": "Nirvana", "bio": "quick fox", "title": {
                "input": ["Nevermind", "Nirvana"], "weight": 34}},
            {"name": "Pixies", "bio": "quick dog", "title": "Nirvana Unplugged"},
            {"name": "Nina", "bio": "quiet night", "title": {"input": "Nimble", "weight": 50}},
            {"name": "Blur", "bio": "quack"}]
    for n, doc in enumerate(docs):
        es.index(index="bands", id=str(n), document=doc)
    es.indices.refresh(index="bands")
    return es


def _suggest(es: Elasticsearch, index: str = "bands", **suggest: dict) -> dict:
    return es.search(index=index, size=0, suggest=suggest)["suggest"]


def test_term_suggestions_per_token(bands: Elasticsearch) -> None:
    result = _suggest(bands, fix={"text": "quikc nigth", "term": {"field": "bio"}})["fix"]
    assert [(e["text"], e["offset"], e["length"]) for e in result] == [("quikc", 0, 5),
                                                                       ("nigth", 6, 5)]
    # one transposition in five letters scores 1 - 1/5; two edits 1 - 2/5; ties by frequency
    assert result[0]["options"] == [{"text": "quick", "score": 0.8, "freq": 2},
                                    {"text": "quack", "score": 0.6, "freq": 1},
                                    {"text": "quiet", "score": 0.6, "freq": 1}]
    assert result[1]["options"] == [{"text": "night", "score": 0.8, "freq": 1}]


def test_term_suggest_modes_sort_and_size(bands: Elasticsearch) -> None:
    present = {"text": "quick", "term": {"field": "bio"}}
    assert _suggest(bands, s=present)["s"][0]["options"] == []  # `missing`: it is indexed
    always = {"text": "quick", "term": {"field": "bio", "suggest_mode": "always",
                                        "max_term_freq": 10}}
    assert [o["text"] for o in _suggest(bands, s=always)["s"][0]["options"]] == ["quack",
                                                                                "quiet"]
    popular = {"text": "quack", "term": {"field": "bio", "suggest_mode": "popular",
                                         "max_term_freq": 10}}
    assert [o["text"] for o in _suggest(bands, s=popular)["s"][0]["options"]] == ["quick"]
    by_score = {"text": "quieu", "term": {"field": "bio"}}
    assert [o["text"] for o in _suggest(bands, s=by_score)["s"][0]["options"]] == ["quiet",
                                                                                  "quick"]
    by_freq = {"text": "quieu", "term": {"field": "bio", "sort": "frequency", "size": 1}}
    assert _suggest(bands, s=by_freq)["s"][0]["options"] == [
        {"text": "quick", "score": 0.6, "freq": 2}]
    short = {"text": "qck", "term": {"field": "bio"}}  # under min_word_length
    assert _suggest(bands, s=short)["s"][0]["options"] == []


def test_phrase_suggestion_corrects_the_likeliest_word(bands: Elasticsearch) -> None:
    result = _suggest(bands, p={"text": "quikc fox", "phrase": {
        "field": "bio", "highlight": {"pre_tag": "<b>", "post_tag": "</b>"}}})["p"][0]
    assert (result["text"], result["offset"], result["length"]) == ("quikc fox", 0, 9)
    best = result["options"][0]
    assert (best["text"], best["highlighted"]) == ("quick fox", "<b>quick</b> fox")
    assert best["score"] > 0
    fine = _suggest(bands, p={"text": "quick fox", "phrase": {"field": "bio"}})["p"][0]
    assert fine["options"] == []


def test_completion_by_prefix_and_weight(bands: Elasticsearch) -> None:
    options = _suggest(bands, c={"prefix": "nir", "completion": {"field": "title"}}
                       )["c"][0]["options"]
    assert [(o["text"], o["_id"], o["_score"]) for o in options] == [
        ("Nirvana", "0", 34.0), ("Nirvana Unplugged", "1", 1.0)]
    assert options[0]["_index"] == "bands"
    assert options[0]["_source"]["name"] == "Nirvana"
    first = _suggest(bands, c={"prefix": "N", "completion": {"field": "title", "size": 1}}
                     )["c"][0]["options"]
    assert [(o["text"], o["_score"]) for o in first] == [("Nimble", 50.0)]


def test_typed_keys_and_several_indices(bands: Elasticsearch) -> None:
    bands.indices.create(index="bands-2", mappings=MAPPING)
    bands.index(index="bands-2", id="9", document={"bio": "quick cat"}, refresh=True)
    resp = bands.search(index="bands*", size=0, typed_keys=True, suggest={
        "text": "quikc", "t": {"term": {"field": "bio"}}, "p": {"phrase": {"field": "bio"}},
        "c": {"prefix": "nir", "completion": {"field": "title"}}})
    assert sorted(resp["suggest"]) == ["completion#c", "phrase#p", "term#t"]
    assert resp["suggest"]["term#t"][0]["options"][0] == {"text": "quick", "score": 0.8,
                                                          "freq": 3}


@pytest.mark.parametrize(("suggest", "reason"), [
    ({"s": {"text": "x", "term": {}}}, "the required field option [field] is missing"),
    ({"s": {"text": "x", "term": {"field": "nowhere"}}}, "no mapping found for field [nowhere]"),
    ({"s": {"prefix": "x", "completion": {"field": "name"}}},
     "Field [name] is not a completion suggest field"),
    ({"s": {"text": "x", "term": {"field": "bio", "suggest_mode": "often"}}},
     "Illegal suggest mode often"),
    ({"s": {"term": {"field": "bio"}}}, "The required text option is missing"),
])
def test_bad_suggestions_are_refused(bands: Elasticsearch, suggest: dict, reason: str) -> None:
    with pytest.raises(BadRequestError) as err:
        bands.search(index="bands", suggest=suggest)
    assert err.value.body["error"]["reason"] == reason
