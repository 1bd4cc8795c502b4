"""Legacy index templates (`_template`): stored, listed and deleted as in Elasticsearch, and
applied to the indices created with a name they match (explicitly or by a first write)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import BadRequestError, Elasticsearch, ElasticsearchWarning, NotFoundError

from es_rag.engine.legacy_templates import LegacyTemplates

DEPRECATION = "Legacy index templates are deprecated in favor of composable templates."


@pytest.fixture
def client(es: Elasticsearch) -> Iterator[Elasticsearch]:
    """The session engine's client; the templates a test stored are deleted after it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ElasticsearchWarning)
        yield es
        for name in es.indices.get_template():
            es.indices.delete_template(name=name)


def test_put_answers_with_the_deprecation_and_get_lists_by_name_and_pattern(
        client: Elasticsearch) -> None:
    response = client.perform_request(
        "PUT", "/_template/logs", headers={"content-type": "application/json"},
        body={"index_patterns": "logs-*", "version": 3, "settings": {"number_of_shards": 2}})
    assert DEPRECATION in response.meta.headers["warning"]
    client.indices.put_template(name="metrics", index_patterns=["metrics-*", "m-*"], order=5)

    logs = client.indices.get_template(name="logs")["logs"]
    assert logs == {"order": 0, "version": 3, "index_patterns": ["logs-*"],
                    "settings": {"index": {"number_of_shards": "2"}}, "mappings": {},
                    "aliases": {}}
    flat = client.indices.get_template(name="logs", flat_settings=True)["logs"]["settings"]
    assert flat == {"index.number_of_shards": "2"}
    assert set(client.indices.get_template(name="log*,metrics")) == {"logs", "metrics"}
    assert client.indices.get_template(name="metrics")["metrics"]["order"] == 5
    assert client.indices.exists_template(name="logs")
    assert not client.indices.exists_template(name="nope")
    with pytest.raises(NotFoundError):
        client.indices.get_template(name="nope*")


def test_delete_takes_a_name_or_pattern_and_a_missing_one_is_a_404(client: Elasticsearch) -> None:
    for name in ("a-one", "a-two", "b"):
        client.indices.put_template(name=name, index_patterns=[f"{name}-*"])
    client.indices.delete_template(name="a-*")
    assert set(client.indices.get_template()) == {"b"}
    with pytest.raises(NotFoundError) as err:
        client.indices.delete_template(name="a-one")
    assert err.value.error == "index_template_missing_exception"
    assert "index_template [a-one] missing" in str(err.value)


def test_bad_templates_are_refused_with_elasticsearchs_errors(client: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        client.indices.put_template(name="Upper", index_patterns=["x-*"])
    assert err.value.error == "invalid_index_template_exception"
    assert "name must be lower cased" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        client.indices.put_template(name="bad", index_patterns=["has space"])
    assert "index_patterns [has space] must not contain a space" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        client.indices.put_template(name="empty", settings={"number_of_shards": 1})
    assert err.value.error == "action_request_validation_exception"
    with pytest.raises(BadRequestError) as err:
        client.perform_request("PUT", "/_template/odd",
                               headers={"content-type": "application/json"},
                               body={"index_patterns": ["x"], "colour": "red"})
    assert err.value.error == "parse_exception"
    with pytest.raises(BadRequestError) as err:
        client.indices.put_template(name="hiding", index_patterns=["*"],
                                    settings={"index.hidden": True})
    assert "global templates may not specify the setting index.hidden" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        client.indices.put_template(name="typed", index_patterns=["t-*"], mappings={
            "_doc": {"properties": {"a": {"type": "keyword"}}}})
    assert "cannot be nested under a type [_doc]" in str(err.value)
    client.indices.put_template(name="once", index_patterns=["o-*"])
    with pytest.raises(BadRequestError) as err:
        client.indices.put_template(name="once", index_patterns=["o-*"], create=True)
    assert "index_template [once] already exists" in str(err.value)


def test_an_index_takes_the_templates_its_name_matches_in_order(client: Elasticsearch) -> None:
    client.indices.put_template(
        name="base", index_patterns=["shop-*"], order=0,
        settings={"number_of_replicas": 0, "refresh_interval": "5s"},
        mappings={"properties": {"title": {"type": "text"}, "sku": {"type": "keyword"}}},
        aliases={"all-shops": {}, "{index}-alias": {}})
    client.indices.put_template(
        name="special", index_patterns=["shop-special*"], order=1,
        settings={"refresh_interval": "10s"},
        mappings={"properties": {"sku": {"type": "long"}}})
    client.indices.create(index="shop-special-1", settings={"number_of_shards": 2},
                          mappings={"properties": {"price": {"type": "float"}}})
    got = client.indices.get(index="shop-special-1")["shop-special-1"]
    index = got["settings"]["index"]
    assert (index["number_of_replicas"], index["refresh_interval"], index["number_of_shards"]) \
        == ("0", "10s", "2")  # higher order overrides lower, the request overrides both
    assert got["mappings"]["properties"] == {"title": {"type": "text"}, "sku": {"type": "long"},
                                             "price": {"type": "float"}}
    assert set(got["aliases"]) == {"all-shops", "shop-special-1-alias"}

    client.indices.create(index="other")
    assert client.indices.get(index="other")["other"]["mappings"] == {}


def test_a_hidden_index_takes_no_match_all_template(client: Elasticsearch) -> None:
    client.indices.put_template(name="everything", index_patterns=["*"],
                                settings={"number_of_replicas": 0})
    client.indices.create(index="visible")
    client.indices.create(index="hidden-one", settings={"index.hidden": True})
    settings = client.indices.get_settings(index="visible,hidden-one",
                                           expand_wildcards="all")
    assert settings["visible"]["settings"]["index"]["number_of_replicas"] == "0"
    assert settings["hidden-one"]["settings"]["index"]["number_of_replicas"] == "1"


def test_a_first_write_runs_the_pipelines_of_the_templates(client: Elasticsearch) -> None:
    client.ingest.put_pipeline(id="stamp", processors=[{"set": {"field": "stamped",
                                                                "value": True}}])
    client.ingest.put_pipeline(id="move", processors=[{"set": {"field": "_index",
                                                               "value": "moved"}}])
    client.indices.put_template(name="stamped", index_patterns=["moved"],
                                settings={"final_pipeline": "stamp"})
    client.indices.put_template(name="mover", index_patterns=["incoming"],
                                settings={"default_pipeline": "move"})
    client.index(index="incoming", id="1", document={"a": 1}, refresh=True)
    assert client.get(index="moved", id="1")["_source"] == {"a": 1, "stamped": True}
    assert not client.indices.exists(index="incoming")
    assert client.indices.get_settings(index="moved")["moved"]["settings"]["index"][
        "final_pipeline"] == "stamp"
    client.ingest.delete_pipeline(id="stamp,move")


def test_dynamic_templates_merge_by_name_with_the_request_first(tmp_path: Path) -> None:
    templates = LegacyTemplates(tmp_path / "legacy_templates.json")
    templates.put("dyn", {"index_patterns": ["d-*"], "mappings": {"dynamic_templates": [
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}},
        {"longs": {"match_mapping_type": "long", "mapping": {"type": "integer"}}}]}})
    body = templates.apply("d-1", {"mappings": {"dynamic_templates": [
        {"longs": {"match_mapping_type": "long", "mapping": {"type": "long"}}}]}})
    assert body is not None
    assert body["mappings"]["dynamic_templates"] == [
        {"longs": {"match_mapping_type": "long", "mapping": {"type": "long"}}},
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}]


def test_templates_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "legacy_templates.json"
    LegacyTemplates(path).put("kept", {"index_patterns": ["k-*"], "order": 2})
    reopened = LegacyTemplates(path)
    assert reopened.get("kept")["kept"]["order"] == 2
    assert reopened.apply("k-1", None) == {"settings": {}, "mappings": {}, "aliases": {}}


def test_cat_templates_lists_name_patterns_order_and_version(client: Elasticsearch) -> None:
    client.indices.put_template(name="logs", index_patterns=["logs-*", "l-*"], order=2,
                                version=7)
    client.indices.put_template(name="metrics", index_patterns=["m-*"])
    lines = client.cat.templates(v=True).splitlines()
    assert lines[0].split() == ["name", "index_patterns", "order", "version", "composed_of"]
    assert lines[1].startswith("logs    [logs-*, l-*]  2     7")
    assert lines[2].startswith("metrics [m-*]          0")
    assert client.cat.templates(name="met*", format="json") == [
        {"name": "metrics", "index_patterns": "[m-*]", "order": "0", "version": "",
         "composed_of": ""}]


def test_an_index_matching_several_templates_is_warned_about(client: Elasticsearch) -> None:
    client.indices.put_template(name="wide", index_patterns=["w*"])
    client.indices.put_template(name="narrow", index_patterns=["wx-*"], order=1)
    response = client.perform_request("PUT", "/wx-1")
    assert ("index [wx-1] matches multiple legacy templates [narrow, wide], composable "
            "templates will only match a single template") in response.meta.headers["warning"]
    bulk = client.perform_request("POST", "/_bulk", headers={
        "content-type": "application/x-ndjson"}, body='{"index": {"_index": "wx-2"}}\n{}\n')
    assert "index [wx-2] matches multiple legacy templates" in bulk.meta.headers["warning"]
    single = client.perform_request("PUT", "/other-1")
    assert "warning" not in single.meta.headers
