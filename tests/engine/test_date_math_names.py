"""Date math index names (`<logs-{now/d}>`) in index creation, aliases, writes and searches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from es_rag.engine.date_math_names import resolve


def test_names_resolve_with_format_time_zone_and_escapes() -> None:
    now = datetime(2024, 3, 15, 23, 30, tzinfo=UTC)
    assert resolve("<logs-{now/d}>", now) == "logs-2024.03.15"
    assert resolve("<logs-{now/M{yyyy.MM}}>", now) == "logs-2024.03"
    assert resolve("<logs-{now/d{yyyy.MM.dd|+12:00}}>", now) == "logs-2024.03.16"
    assert resolve("<logs-{2022-12-31||-1d/d{yyyy-MM-dd}}>", now) == "logs-2022-12-30"
    assert resolve("<esc\\{aped\\}-{now/y{yyyy}}>", now) == "esc{aped}-2024"
    assert resolve("plain-name", now) == "plain-name"
    with pytest.raises(Exception, match="date math placeholder is open ended"):
        resolve("<logs-{now/d>", now)


def test_create_write_and_search_through_a_date_math_name(es: Elasticsearch) -> None:
    es.indices.create(index="<dm_http_{2022-12-31||/d{yyyy-MM-dd}}>",
                      aliases={"<dm_{2022-12-31||/d{yyyy-MM-dd}}>": {}})
    assert es.indices.exists_alias(name="dm_2022-12-31")
    today = datetime.now(UTC).strftime("%Y.%m.%d")
    written = es.index(index="<dm-{now/d}>", id="1", document={"a": 1}, refresh=True)
    assert written["_index"] == f"dm-{today}"
    assert es.search(index="<dm-{now/d}>")["hits"]["total"]["value"] == 1
    with pytest.raises(BadRequestError, match="invalid dynamic name expression"):
        es.index(index="<dm-{now/d>", document={"a": 1})
