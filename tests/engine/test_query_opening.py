"""Every query clause whose body is an object opens it the same way, as Elasticsearch's
AbstractQueryBuilder does: an object, only known keys, a numeric `boost`, a `_name`."""

from __future__ import annotations

from typing import Any

import pytest

from es_rag.engine.errors import ParsingError
from es_rag.engine.query import parse_query

MINIMAL: dict[str, dict[str, Any]] = {
    "bool": {}, "constant_score": {"filter": {"match_all": {}}},
    "dis_max": {"queries": [{"match_all": {}}]}, "match_all": {}, "exists": {"field": "f"},
    "ids": {"values": ["1"]}, "multi_match": {"query": "q", "fields": ["f"]},
    "query_string": {"query": "q"}, "simple_query_string": {"query": "q"},
}


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_boost_and_name_are_read_by_every_clause(name: str) -> None:
    node = parse_query({name: {**MINIMAL[name], "boost": 2, "_name": "mine"}})
    assert (node.boost, node.query_name) == (2.0, "mine")


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_an_unknown_key_a_bad_boost_and_a_non_object_are_refused(name: str) -> None:
    with pytest.raises(ParsingError, match=rf"\[{name}\] query does not support \[zzz\]"):
        parse_query({name: {**MINIMAL[name], "zzz": 1}})
    with pytest.raises(ParsingError, match=rf"\[{name}\] failed to parse field \[boost\]"):
        parse_query({name: {**MINIMAL[name], "boost": "high"}})
    with pytest.raises(ParsingError, match=rf"\[{name}\] query malformed, no start_object"):
        parse_query({name: ["not", "an", "object"]})
