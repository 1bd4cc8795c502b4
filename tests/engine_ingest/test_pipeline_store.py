"""Pipelines are validated when stored, found by id or wildcard, and survive a restart."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.ingest import PipelineNotFound, PipelineStore

SET_PIPELINE = {"description": "_description",
                "processors": [{"set": {"field": "field2", "value": "_value"}}]}


def test_crud_and_get_all(store):
    store.put("first_pipeline", SET_PIPELINE)
    store.put("second_pipeline", {"description": "second", "processors": []})
    assert store.get("first_pipeline") == {"first_pipeline": SET_PIPELINE}
    assert set(store.get()) == {"first_pipeline", "second_pipeline"}
    assert store.get("*_pipeline,nothing", summary=True) == {
        "first_pipeline": {}, "second_pipeline": {}}
    store.delete("first_pipeline")
    with pytest.raises(PipelineNotFound) as missing:
        store.get("first_pipeline")
    assert (missing.value.status, missing.value.body()) == (404, {})


def test_get_with_no_pipelines_at_all_is_a_404(store):
    with pytest.raises(PipelineNotFound):
        store.get()


def test_wildcard_delete_and_missing_delete(store):
    store.put("my_pipeline", SET_PIPELINE)
    store.delete("my_*")
    with pytest.raises(EngineError) as missing:
        store.delete("my_*")
    assert missing.value.body()["error"]["type"] == "resource_not_found_exception"
    assert missing.value.body()["error"]["reason"] == "pipeline [my_*] is missing"
    assert missing.value.status == 404


def test_pipelines_survive_a_restart(tmp_path):
    path = tmp_path / "pipelines.json"
    PipelineStore(path).put("keep", SET_PIPELINE)
    reopened = PipelineStore(path)
    assert reopened.get("keep") == {"keep": SET_PIPELINE}
    assert reopened.execute("keep", index="i", doc_id=None, source={}).source == {
        "field2": "_value"}
    assert json.loads(path.read_text()) == {"keep": SET_PIPELINE}
    assert [p.name for p in tmp_path.iterdir()] == ["pipelines.json"]


def test_executing_an_unknown_pipeline_is_a_bad_request(store):
    with pytest.raises(EngineError, match=r"pipeline with id \[nope\] does not exist") as failure:
        store.execute("nope", index="i", doc_id="1", source={})
    assert failure.value.status == 400


def _root_cause(store, body):
    with pytest.raises(EngineError) as failure:
        store.put("my_pipeline", body)
    assert failure.value.status == 400
    return failure.value.body()["error"]["root_cause"][0]


def test_missing_required_property(store):
    assert _root_cause(store, {"processors": [{"set": {"tag": "fritag"}}]}) == {
        "type": "parse_exception", "reason": "[field] required property is missing",
        "processor_type": "set", "processor_tag": "fritag", "property_name": "field"}


def test_unknown_processor_and_attachment_for_now(store):
    for name in ("nope", "attachment"):
        assert _root_cause(store, {"processors": [{name: {"field": "a"}}]}) == {
            "type": "parse_exception", "reason": f"No processor type exists with name [{name}]",
            "processor_type": name}


def test_unknown_processor_parameters(store):
    cause = _root_cause(store, {"processors": [{"set": {"field": "a", "value": 1, "x": 2}}]})
    assert cause["reason"] == ("processor [set] doesn't support one or more provided "
                               "configuration parameters [x]")
    assert cause["processor_type"] == "set"


def test_empty_on_failure_lists(store):
    assert _root_cause(store, {"processors": [
        {"fail": {"tag": "emptyfail", "message": "_message", "on_failure": []}}]}) == {
        "type": "parse_exception", "reason": "[on_failure] processors list cannot be empty",
        "processor_type": "fail", "processor_tag": "emptyfail", "property_name": "on_failure"}
    assert _root_cause(store, {"processors": [{"set": {"field": "f", "value": 1}}],
                               "on_failure": []})["reason"] == (
        "pipeline [my_pipeline] cannot have an empty on_failure option defined")


def test_script_processor_and_bad_templates_are_refused(store):
    assert _root_cause(store, {"processors": [{"script": {"source": "ctx.a = 1"}}]})[
        "reason"] == "script processor is not supported by the embedded engine"
    assert _root_cause(store, {"processors": [{"set": {"field": "a", "value": "{{#x}}"}}]})[
        "property_name"] == "value"
    assert _root_cause(store, {"processors": [], "colour": "blue"})["reason"] == (
        "pipeline [my_pipeline] doesn't support one or more provided configuration "
        "parameters [colour]")


def test_outcomes_list_executed_pipelines_and_stats_count_runs(store):
    store.put("outer", {"processors": [{"pipeline": {"name": "inner"}}]})
    store.put("inner", {"processors": [{"set": {"field": "x", "value": 1}}]})
    store.put("failing", {"processors": [{"fail": {"message": "no"}}]})
    outcome = store.execute("outer", index="i", doc_id="1", source={})
    assert outcome.executed_pipelines == ["outer", "inner"]
    with pytest.raises(EngineError):
        store.execute("failing", index="i", doc_id="2", source={})
    stats = store.stats()
    assert {k: stats["total"][k] for k in ("count", "failed", "current")} == {
        "count": 2, "failed": 1, "current": 0}
    assert stats["pipelines"]["inner"]["count"] == 1
    assert stats["pipelines"]["failing"]["failed"] == 1


def test_concurrent_puts_are_all_persisted(tmp_path):
    store = PipelineStore(tmp_path / "pipelines.json")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: store.put(f"p{n}", SET_PIPELINE), range(40)))
    assert len(PipelineStore(tmp_path / "pipelines.json").get()) == 40


def test_remove_needs_field_or_keep_but_not_both(store):
    assert _root_cause(store, {"processors": [{"remove": {}}]})["reason"] == (
        "[keep] or [field] must be specified")
    assert _root_cause(store, {"processors": [{"remove": {"field": "a", "keep": "b"}}]})[
        "reason"] == "[keep] and [field] cannot both be used in the same processor"
