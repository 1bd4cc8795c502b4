"""URL parameters are checked against Elasticsearch's REST API spec, with its own messages."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from es_rag.engine.server import EngineServer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def books(es: Elasticsearch) -> Iterator[str]:
    es.index(index="param-books", id="1", document={"title": "Dune"}, refresh=True)
    yield "param-books"
    es.options(ignore_status=404).indices.delete(index="param-books")


def _refusal(es: Elasticsearch, method: str, path: str, params: dict[str, str],
             body: dict | None = None) -> str:
    with pytest.raises(BadRequestError) as caught:
        es.perform_request(method, path, params=params, body=body,
                           headers={"content-type": "application/json"} if body else None)
    error = caught.value.body["error"]
    assert error["type"] == "illegal_argument_exception", error
    return error["reason"]


@pytest.mark.parametrize(("params", "reason"), [
    ({"conflicts": "cat"}, 'conflicts may only be "proceed" or "abort" but was [cat]'),
    ({"max_docs": "-4"}, "[max_docs] parameter cannot be negative, found [-4]"),
    ({"slices": "0"}, '[slices] must be a positive integer or the string "auto", but was [0]'),
    ({"requests_per_second": "0"},
     "[requests_per_second] must be a float greater than 0. Use -1 to disable throttling."),
    ({"scroll_size": "asdf"}, "Failed to parse long parameter [scroll_size] with value [asdf]"),
    ({"refresh": "maybe"},
     "Failed to parse value [maybe] as only [true] or [false] are allowed."),
    ({"timeout": "5"}, "failed to parse setting [timeout] with value [5] as a time value: "
                       "unit is missing or unrecognized"),
])
def test_delete_by_query_refuses_what_elasticsearch_refuses(
        es: Elasticsearch, books: str, params: dict[str, str], reason: str) -> None:
    query = {"query": {"match_all": {}}}
    assert _refusal(es, "POST", f"/{books}/_delete_by_query", params, query) == reason
    assert es.count(index=books)["count"] == 1, "a refused delete_by_query deleted documents"


def test_valid_delete_by_query_parameters_still_work(es: Elasticsearch, books: str) -> None:
    done = es.delete_by_query(index=books, query={"match_all": {}}, conflicts="proceed",
                              slices="auto", max_docs=5, refresh=True)
    assert done["deleted"] == 1


def test_unknown_parameters_are_named_with_suggestions(es: Elasticsearch, books: str) -> None:
    assert _refusal(es, "GET", "/_search", {"x": "1"}) == (
        "request [/_search] contains unrecognized parameter: [x]")
    assert _refusal(es, "GET", f"/{books}/_search", {"sise": "1", "frm": "2"}) == (
        f"request [/{books}/_search] contains unrecognized parameters: "
        "[frm] -> did you mean [from]?, [sise] -> did you mean [size]?")


def test_typed_values_are_parsed_like_elasticsearch(es: Elasticsearch, books: str) -> None:
    assert _refusal(es, "GET", f"/{books}/_search", {"size": "ten"}) == (
        "Failed to parse int parameter [size] with value [ten]")
    assert _refusal(es, "GET", f"/{books}/_search", {"expand_wildcards": "open,shut"}) == (
        "No valid expand wildcard value [shut]")
    assert _refusal(es, "PUT", f"/{books}/_doc/2", {"version_type": "newest", "version": "2"},
                    {"title": "Emma"}) == "No version type match [newest]"


def test_a_parameter_the_engine_ignores_is_announced_in_a_warning(
        engine: EngineServer, books: str) -> None:
    client = Elasticsearch(engine.url, request_timeout=30)
    try:
        with pytest.warns(Warning, match=r"ignores the parameter \[include_unloaded_segments\]"):
            client.cat.indices(index=books, include_unloaded_segments=True)
        with pytest.warns(Warning, match=r"ignores the parameter \[preserve_existing\]"):
            client.indices.put_settings(index=books, settings={"number_of_replicas": 0},
                                        preserve_existing=True)
    finally:
        client.close()


def test_the_engine_readme_lists_the_parameters_of_every_endpoint() -> None:
    done = subprocess.run([sys.executable, "tools/engine_params_readme.py", "--check"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    readme = (REPO / "es_rag" / "engine" / "README.md").read_text(encoding="utf-8")
    assert "| POST `/{index}/_delete_by_query` | delete_by_query |" in readme


def test_xpack_info_answers_the_categories_asked_for(es: Elasticsearch) -> None:
    assert set(es.xpack.info(categories="features")) == {"features"}
    assert set(es.xpack.info()) == {"build", "license", "features"}
    assert es.xpack.info(categories="_none").body == {}
    with pytest.raises(BadRequestError, match="Category.COLOUR"):
        es.xpack.info(categories="colour")
