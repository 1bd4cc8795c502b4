"""`_simulate` shows what a pipeline would do to sample documents, step by step if asked."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError

PIPELINE = {"processors": [
    {"set": {"field": "greeting", "value": "hello {{name}}", "tag": "greet"}},
    {"uppercase": {"field": "missing", "ignore_failure": True}},
    {"lowercase": {"field": "name", "if": "ctx.name == 'nobody'"}},
]}


def test_simulate_an_inline_pipeline(store):
    result = store.simulate({"pipeline": PIPELINE, "docs": [
        {"_index": "books", "_id": "7", "_source": {"name": "Ann"}},
        {"_source": {"name": "Bob"}},
    ]})
    first, second = (entry["doc"] for entry in result["docs"])
    assert first["_index"] == "books" and first["_id"] == "7" and first["_version"] == "-3"
    assert first["_source"] == {"name": "Ann", "greeting": "hello Ann"}
    assert list(first["_ingest"]) == ["timestamp"] and first["_ingest"]["timestamp"].endswith("Z")
    assert (second["_index"], second["_id"]) == ("_index", "_id")


def test_simulate_verbose_reports_each_processor(store):
    store.put("stored", PIPELINE)
    [entry] = store.simulate({"docs": [{"_source": {"name": "Ann"}}]}, "stored",
                             verbose=True)["docs"]
    set_result, ignored, skipped = entry["processor_results"]
    assert set_result["processor_type"] == "set" and set_result["status"] == "success"
    assert set_result["tag"] == "greet"
    assert set_result["doc"]["_source"]["greeting"] == "hello Ann"
    assert set_result["doc"]["_ingest"]["pipeline"] == "stored"
    assert ignored["status"] == "error_ignored"
    assert ignored["ignored_error"]["error"]["type"] == "illegal_argument_exception"
    assert skipped == {"processor_type": "lowercase", "status": "skipped",
                       "if": {"condition": "ctx.name == 'nobody'", "result": False}}


def test_simulate_reports_errors_and_drops_per_document(store):
    result = store.simulate({"pipeline": {"processors": [
        {"drop": {"if": "ctx.spam == true"}},
        {"rename": {"field": "a", "target_field": "b"}},
    ]}, "docs": [{"_source": {"a": 1}}, {"_source": {"spam": True}}, {"_source": {}}]})
    assert result["docs"][0]["doc"]["_source"] == {"b": 1}
    assert result["docs"][1] is None
    assert result["docs"][2] == {"error": {
        "root_cause": [{"type": "illegal_argument_exception", "reason": "field [a] doesn't exist"}],
        "type": "illegal_argument_exception", "reason": "field [a] doesn't exist"}}


def test_simulate_verbose_shows_on_failure_and_nested_pipelines(store):
    store.put("inner", {"processors": [{"set": {"field": "inner", "value": 1}}]})
    [entry] = store.simulate({"pipeline": {"processors": [
        {"pipeline": {"name": "inner"}},
        {"fail": {"message": "oops", "on_failure": [{"set": {"field": "handled",
                                                             "value": True}}]}},
        {"drop": {}},
    ]}, "docs": [{"_source": {}}]}, verbose=True)["docs"]
    statuses = [(r["processor_type"], r["status"]) for r in entry["processor_results"]]
    assert statuses == [("pipeline", "success"), ("set", "success"), ("fail", "error"),
                        ("set", "success"), ("drop", "dropped")]
    assert "doc" not in entry["processor_results"][0]
    handler = entry["processor_results"][3]["doc"]
    assert handler["_ingest"]["on_failure_message"] == "oops"
    assert entry["processor_results"][2]["error"]["type"] == "fail_processor_exception"


@pytest.mark.parametrize(("body", "message"), [
    ({"docs": [{"_source": {}}]}, r"\[pipeline\] required property is missing"),
    ({"pipeline": {"processors": []}}, r"\[docs\] required property is missing"),
    ({"pipeline": {"processors": []}, "docs": []}, "must specify at least one document"),
    ({"pipeline": {"processors": []}, "docs": [{"_id": "1"}]},
     r"\[_source\] required property is missing"),
])
def test_bad_simulate_requests(store, body, message):
    with pytest.raises(EngineError, match=message) as failure:
        store.simulate(body)
    assert failure.value.status == 400


def test_simulating_an_unknown_stored_pipeline(store):
    with pytest.raises(EngineError, match=r"pipeline \[ghost\] does not exist"):
        store.simulate({"docs": [{"_source": {}}]}, "ghost")


def test_simulate_verbose_shows_conditions_descriptions_and_ignored_missing_pipelines(store):
    [entry] = store.simulate({"pipeline": {"processors": [
        {"set": {"field": "a", "value": 1, "if": "ctx.go == true", "description": "sets a"}},
        {"pipeline": {"name": "absent", "ignore_missing_pipeline": True}},
    ]}, "docs": [{"_source": {"go": True}}]}, verbose=True)["docs"]
    first, second = entry["processor_results"]
    assert first["if"] == {"condition": "ctx.go == true", "result": True}
    assert first["description"] == "sets a" and first["status"] == "success"
    assert second["status"] == "error_ignored"
    assert second["ignored_error"]["error"]["reason"] == (
        "Pipeline processor configured for non-existent pipeline [absent]")
    assert second["doc"]["_source"] == {"go": True, "a": 1}
