"""When a processor fails, on_failure, ignore_failure, fail and drop behave as in Elasticsearch."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError


def test_pipeline_on_failure_stops_the_remaining_processors(run):
    source = run([
        {"set": {"field": "_executed", "value": True}},
        {"date": {"field": "date", "target_field": "date", "formats": ["yyyy"]}},
        {"uppercase": {"field": "field1"}},
    ], {"field1": "value1"}, on_failure=[{"set": {"field": "_failed", "value": True}}])
    assert source == {"field1": "value1", "_executed": True, "_failed": True}


def test_nested_processor_on_failure_chains(run):
    source = run([{"rename": {
        "field": "foofield", "target_field": "field1",
        "on_failure": [
            {"set": {"field": "foofield", "value": "exists"}},
            {"rename": {"field": "foofield2", "target_field": "field1",
                        "on_failure": [{"set": {"field": "foofield2", "value": "ran"}}]}},
        ]}}], {"field1": "value1"})
    assert source == {"field1": "value1", "foofield": "exists", "foofield2": "ran"}


def test_on_failure_sees_the_failure_metadata_which_is_removed_afterwards(run, store):
    store.put("inner", {"processors": [{"fail": {"tag": "boom", "message": "no {{name}}"}}]})
    source = run([{"pipeline": {"name": "inner", "on_failure": [
        {"set": {"field": "why", "value": "{{_ingest.on_failure_message}}"}},
        {"set": {"field": "what", "value": "{{_ingest.on_failure_processor_type}}"}},
        {"set": {"field": "tag", "value": "{{_ingest.on_failure_processor_tag}}"}},
        {"set": {"field": "where", "value": "{{_ingest.on_failure_pipeline}}"}},
    ]}}, {"set": {"field": "after", "value": "[{{_ingest.on_failure_message}}]"}}],
        {"name": "Ann"})
    assert source == {"name": "Ann", "why": "no Ann", "what": "fail", "tag": "boom",
                      "where": "inner", "after": "[]"}


def test_ignore_failure_continues_with_the_next_processor(run):
    assert run([{"fail": {"message": "_message", "ignore_failure": True}},
                {"set": {"field": "field", "value": "value"}}], {}) == {"field": "value"}


def test_an_unhandled_failure_has_the_processors_error_body(run):
    with pytest.raises(EngineError) as failure:
        run([{"set": {"field": "ok", "value": 1}}, {"fail": {"message": "stop {{id}}"}}],
            {"id": 7})
    assert failure.value.status == 500
    assert failure.value.body() == {"error": {
        "root_cause": [{"type": "fail_processor_exception", "reason": "stop 7"}],
        "type": "fail_processor_exception", "reason": "stop 7"}, "status": 500}


def test_a_failing_on_failure_processor_fails_the_document(run):
    with pytest.raises(EngineError, match=r"field \[nope\] doesn't exist"):
        run([{"fail": {"message": "first", "on_failure": [
            {"rename": {"field": "nope", "target_field": "x"}}]}}], {})


def test_drop_drops_the_document(run):
    assert run([{"drop": {}}, {"set": {"field": "never", "value": 1}}], {"a": 1}) is None
    assert run([{"fail": {"message": "x", "on_failure": [{"drop": {}}]}}], {"a": 1}) is None


def test_pipeline_processor_runs_another_pipeline(run, store):
    store.put("tagger", {"processors": [{"set": {"field": "tagged", "value": True}}]})
    assert run([{"pipeline": {"name": "tagger"}}], {}) == {"tagged": True}
    assert run([{"pipeline": {"name": "{{kind}}"}}], {"kind": "tagger"}) == {
        "kind": "tagger", "tagged": True}
    assert run([{"pipeline": {"name": "missing", "ignore_missing_pipeline": True}}], {}) == {}
    with pytest.raises(EngineError, match=r"non-existent pipeline \[missing\]"):
        run([{"pipeline": {"name": "missing"}}], {})


def test_pipeline_cycles_are_detected(store):
    store.put("ping", {"processors": [{"pipeline": {"name": "pong"}}]})
    store.put("pong", {"processors": [{"pipeline": {"name": "ping"}}]})
    with pytest.raises(EngineError, match="Cycle detected for pipeline: ping"):
        store.execute("ping", index="docs", doc_id="1", source={})
    store.put("twice", {"processors": [{"pipeline": {"name": "pong"}}, {"pipeline": {"name":
                                                                                    "pong"}}]})
    store.put("pong", {"processors": [{"set": {"field": "n", "value": 1}}]})
    assert store.execute("twice", index="docs", doc_id="1", source={}).source == {"n": 1}


def test_path_errors_name_the_path(run):
    with pytest.raises(EngineError, match=r"cannot set \[b\] with parent object of type "
                                          r"\[java.lang.String\] as part of path \[a.b\]"):
        run([{"set": {"field": "a.b", "value": 1}}], {"a": "text"})
    with pytest.raises(EngineError, match=r"\[5\] is out of bounds for array with length \[1\] "
                                          r"as part of path \[l.5\]"):
        run([{"set": {"field": "l.5", "value": 1}}], {"l": [0]})
    with pytest.raises(EngineError, match=r"field \[x\] not present as part of path \[x.y\]"):
        run([{"uppercase": {"field": "x.y"}}], {})
