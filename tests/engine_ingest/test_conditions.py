"""Processors run only when their `if` holds; unsupported Painless is refused up front."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError


@pytest.mark.parametrize(("condition", "runs"), [
    ("ctx.kind == 'pdf'", True),
    ("ctx.kind != \"pdf\"", False),
    ("ctx.meta?.lang == 'en'", False),
    ("ctx.size > 10 && ctx.size <= 100", True),
    ("ctx.size < 10 || ctx['kind'] == 'pdf'", True),
    ("!(ctx.kind == null)", True),
    ("ctx.tags[1] == 'b'", True),
    ("ctx._index == 'docs';", True),
    ("ctx.missing == null", True),
])
def test_supported_conditions(run, condition, runs):
    source = run([{"set": {"field": "ran", "value": True, "if": condition}}],
                 {"kind": "pdf", "size": 42, "tags": ["a", "b"]})
    assert source.get("ran", False) is runs


def test_unsupported_painless_is_refused_when_the_pipeline_is_stored(store):
    with pytest.raises(EngineError, match="script conditions are not supported by the embedded "
                                          "engine") as failure:
        store.put("p", {"processors": [{"set": {
            "field": "a", "value": 1, "tag": "t", "if": "ctx.name.startsWith('x')"}}]})
    assert failure.value.status == 400
    assert failure.value.extra["processor_tag"] == "t"


def test_dereferencing_null_is_a_runtime_error(run):
    with pytest.raises(EngineError, match="runtime error") as failure:
        run([{"set": {"field": "a", "value": 1, "if": "ctx.meta.lang == 'en'"}}], {})
    assert failure.value.error_type == "script_exception"
    assert failure.value.extra["caused_by"]["type"] == "null_pointer_exception"


def test_a_non_boolean_condition_is_a_runtime_error(run):
    with pytest.raises(EngineError, match="runtime error"):
        run([{"set": {"field": "a", "value": 1, "if": "ctx.kind"}}], {"kind": "pdf"})
