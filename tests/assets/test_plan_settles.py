"""`es-rag plan` right after `es-rag apply` finds nothing to change: on Elasticsearch 8.x and 9.x
(answers shaped as Elasticsearch builds them, not as the embedded engine does; the engine with
security on is tested as processes in tests/cli/test_assets_commands.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag import assets, stored_form
from es_rag.config import PROJECT_ROOT

from .elasticsearch_responses import (
    answering,
    capabilities,
    index_response,
    pipeline_response,
    role_response,
    script_response,
)

VERSION_IDS = {8: "8518000", 9: "9009000"}


def _applied_state(loaded: assets.Assets, major: int) -> dict[str, dict[str, Any]]:
    """What GET requests answer on an Elasticsearch `major`.x cluster once `loaded` is applied."""
    responses: dict[str, dict[str, Any]] = {}
    for pipeline in loaded.pipelines:
        responses[f"/_ingest/pipeline/{pipeline.name}"] = {
            pipeline.name: pipeline_response(copy.deepcopy(pipeline.body), major)}
    for template in [*loaded.templates, *loaded.retrieval]:
        responses[f"/_scripts/{template.name}"] = script_response(template.name,
                                                                  template.body["script"])
    for role in loaded.roles:
        responses[f"/_security/role/{role.name}"] = {role.name: role_response(role.body)}
    for index in loaded.indices:
        name = f"{index.alias}-v1"
        responses[f"/_alias/{index.alias}"] = {
            name: {"aliases": {index.alias: {"is_write_index": True}}}}
        responses[f"/{name}"] = index_response(name, assets.index_body(index),
                                               VERSION_IDS[major])
        responses[f"/{index.alias}-v*"] = responses[f"/{name}"]
    return responses


@pytest.mark.parametrize("major", [8, 9])
def test_plan_after_apply_is_empty_on_elasticsearch(major: int) -> None:
    loaded = assets.load_assets(PROJECT_ROOT)
    with answering(_applied_state(loaded, major)) as url:
        client = Elasticsearch(url)
        assert assets.plan(client, capabilities(url, major), loaded) == []


@pytest.mark.parametrize("major", [8, 9])
def test_a_real_change_to_a_role_is_still_a_change(major: int, tmp_path: Path) -> None:
    loaded = assets.load_assets(PROJECT_ROOT)
    state = _applied_state(loaded, major)
    reader = next(r for r in loaded.roles if r.name == "es-rag-reader")
    query = reader.body["indices"][0]["query"]
    query["template"]["source"] = query["template"]["source"].replace("public", "everyone")
    with answering(state) as url:
        changes = assets.plan(Elasticsearch(url), capabilities(url, major), loaded)
    assert [(c.kind, c.name, c.action) for c in changes] == [("role", "es-rag-reader", "update")]
    removed = [line for line in changes[0].diff.splitlines() if line.startswith("-  ")]
    assert any("public" in line for line in removed)
    assert not any("allow_restricted_indices" in line for line in changes[0].diff.splitlines()
                   if line[:1] in "+-" and not line.startswith(("---", "+++")))


def test_a_compatible_mapping_change_updates_in_place_on_elasticsearch() -> None:
    loaded = assets.load_assets(PROJECT_ROOT)
    state = _applied_state(loaded, 9)
    chunks = loaded.indices[0]
    body = copy.deepcopy(chunks.body)
    body["mappings"]["properties"]["reviewer"] = {"type": "keyword"}
    changed = assets.Assets([assets.IndexAsset(chunks.alias, chunks.path, body)], [], [], [])
    # documents ingested with `--meta team=hr` gave `metadata` a dynamic field: Elasticsearch
    # now writes that object without `type: object`, which is no change
    live = state["/chunks-v1"]["chunks-v1"]["mappings"]["properties"]["metadata"]
    live.pop("type")
    live["properties"] = {"team": {"type": "keyword", "ignore_above": 1024}}
    with answering(state) as url:
        changes = assets.plan(Elasticsearch(url), capabilities(url, 9), changed)
    assert [(c.kind, c.action, c.reason) for c in changes] == [
        ("index", "update", "compatible: new fields or dynamic settings")]


ROLE_FILE = {
    "cluster": ["monitor"],
    "indices": [{"names": "chunks", "privileges": ["read"],
                 "query": {"term": {"acl": "public"}}}],
    "metadata": {"es_rag": {"asset": "r"}},
}


@pytest.mark.parametrize("returned", [
    # Elasticsearch 8.x / 9.x: one name becomes a list, the query its text, defaults filled in
    {"cluster": ["monitor"],
     "indices": [{"names": ["chunks"], "privileges": ["read"],
                  "query": "{\"term\":{\"acl\":\"public\"}}", "allow_restricted_indices": False}],
     "applications": [], "run_as": [], "metadata": {"es_rag": {"asset": "r"}},
     "transient_metadata": {"enabled": True}},
    # a license without DLS: the cluster says so in transient_metadata, the role is the same
    {"cluster": ["monitor"],
     "indices": [{"names": ["chunks"], "privileges": ["read"],
                  "query": "{\"term\": {\"acl\": \"public\"}}",
                  "allow_restricted_indices": False}],
     "applications": [], "run_as": [], "metadata": {"es_rag": {"asset": "r"}},
     "transient_metadata": {"enabled": False,
                            "unlicensed_features": ["dls"]}},
])
def test_a_role_compares_as_the_cluster_stores_it(returned: dict[str, Any]) -> None:
    assert stored_form.role_form(returned) == stored_form.role_form(ROLE_FILE)


@pytest.mark.parametrize("edit", [
    lambda r: r["indices"][0].update(privileges=["read", "view_index_metadata"]),
    lambda r: r["indices"][0].update(allow_restricted_indices=True),
    lambda r: r["indices"][0].update(query="{\"term\":{\"acl\":\"everyone\"}}"),
    lambda r: r["indices"][0].update(field_security={"grant": ["text"]}),
    lambda r: r.update(run_as=["alice"]),
    lambda r: r.update(description="changed"),
])
def test_any_real_difference_in_a_role_remains(edit: Any) -> None:
    returned = json.loads(json.dumps(ROLE_FILE))
    edit(returned)
    assert stored_form.role_form(returned) != stored_form.role_form(ROLE_FILE)


def test_pipeline_dates_of_elasticsearch_9_are_not_a_difference() -> None:
    pipeline = {"description": "d", "processors": [{"trim": {"field": "text"}}]}
    assert stored_form.pipeline_form(pipeline_response(pipeline, 9)) == \
        stored_form.pipeline_form(pipeline)
    assert stored_form.pipeline_form({**pipeline, "version": 2}) != \
        stored_form.pipeline_form(pipeline)


def test_a_script_source_sent_as_an_object_compares_with_its_stored_text() -> None:
    sent = {"lang": "mustache", "source": {"query": {"match": {"text": "{{query}}"}}}}
    stored = {"lang": "mustache", "source": "{\"query\":{\"match\":{\"text\":\"{{query}}\"}}}",
              "options": {"content_type": "application/json;charset=utf-8"}}
    assert stored_form.script_form(stored) == stored_form.script_form(sent)
    assert stored_form.script_form({"source": "{{#a}}x{{/a}}"}) != \
        stored_form.script_form({"source": "{{#a}}y{{/a}}"})


def _without_apply_record(state: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The live chunks index as if created by hand (or by an es-rag that kept no digest)."""
    live = state["/chunks-v1"]["chunks-v1"]
    del live["mappings"]["_meta"]["es_rag"]["digest"]
    del live["mappings"]["_meta"]["es_rag"]["asset"]
    return live


def test_an_index_that_already_holds_the_file_is_no_change_without_a_digest() -> None:
    loaded = assets.load_assets(PROJECT_ROOT)
    state = _applied_state(loaded, 8)
    live = _without_apply_record(state)
    # documents ingested with `--meta team=hr` added a field to the dynamic `metadata` object
    live["mappings"]["properties"]["metadata"]["properties"] = {"team": {"type": "keyword"}}
    live["mappings"]["properties"]["metadata"].pop("type", None)
    with answering(state) as url:
        assert assets.plan(Elasticsearch(url), capabilities(url, 8), loaded) == []


def test_a_settings_change_shows_only_that_setting() -> None:
    loaded = assets.load_assets(PROJECT_ROOT)
    state = _applied_state(loaded, 9)
    chunks = loaded.indices[0]
    body = copy.deepcopy(chunks.body)
    body["settings"]["refresh_interval"] = "5s"
    changed = assets.Assets([assets.IndexAsset(chunks.alias, chunks.path, body)], [], [], [])
    with answering(state) as url:
        changes = assets.plan(Elasticsearch(url), capabilities(url, 9), changed)
    assert [(c.action, c.reason) for c in changes] == [
        ("update", "compatible: new fields or dynamic settings")]
    lines = [line for line in changes[0].diff.splitlines()
             if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert lines == ['-    "refresh_interval": null', '+    "refresh_interval": "5s"']


def test_analysis_settings_compare_as_the_cluster_returns_them() -> None:
    analysis = {"analyzer": {"folded": {"type": "custom", "tokenizer": "standard",
                                        "filter": ["lowercase", "asciifolding"]}},
                "filter": {"grams": {"type": "edge_ngram", "min_gram": 2, "max_gram": 10}}}
    returned = {"index": {"analysis": {
        "analyzer": {"folded": {"type": "custom", "tokenizer": "standard",
                                "filter": ["lowercase", "asciifolding"]}},
        "filter": {"grams": {"type": "edge_ngram", "min_gram": "2", "max_gram": "10"}}},
        "number_of_shards": "1", "uuid": "x", "refresh_interval": "1s"}}
    assert stored_form.index_settings(returned) == stored_form.index_settings(
        {"analysis": analysis, "index.refresh_interval": "1s", "number_of_shards": 1})
