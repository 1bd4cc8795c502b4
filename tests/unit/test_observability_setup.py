"""Tracing is set up from the standard OTEL_* variables; answers are measured the same way
everywhere (refusals, citation coverage)."""

from __future__ import annotations

import json

import pytest

from es_rag.generate.citations import Answer
from es_rag.generate.prompts import DONT_KNOW
from es_rag.observability import tracing
from es_rag.observability.answers import citation_coverage, is_refusal


@pytest.mark.parametrize(("env", "expected"), [
    ({}, []),
    ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
    ({"OTEL_TRACES_EXPORTER": "otlp, console"}, ["otlp", "console"]),
    ({"OTEL_TRACES_EXPORTER": "none"}, []),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
    ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, []),
])
def test_the_otel_variables_choose_the_exporters(env, expected) -> None:
    assert tracing.exporter_names(env) == expected


def test_an_unknown_exporter_is_named_with_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown exporter zipkin \(accepted: otlp, console"):
        tracing.exporter_names({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_without_an_exporter_nothing_is_installed() -> None:
    installed = []
    assert tracing.configure_tracing({}, install=installed.append) is None
    assert installed == []


def test_console_spans_are_one_json_object_a_line_on_stderr(capsys) -> None:
    installed = []
    provider = tracing.configure_tracing({"OTEL_TRACES_EXPORTER": "console"},
                                         install=installed.append)
    assert installed == [provider]
    tracing.use_tracer_provider(provider)
    try:
        with tracing.span("es_rag.search", es_rag__hits=2), tracing.span("es_rag.retrieve.bm25"):
            pass
    finally:
        tracing.use_tracer_provider(None)
        provider.shutdown()
    captured = capsys.readouterr()
    assert captured.out == ""
    spans = [json.loads(line) for line in captured.err.splitlines()]
    assert [s["name"] for s in spans] == ["es_rag.retrieve.bm25", "es_rag.search"]
    assert spans[1]["attributes"] == {"es_rag.hits": 2}
    assert spans[1]["resource"]["attributes"]["service.name"] == "es-rag"
    assert spans[0]["parent_id"] == spans[1]["context"]["span_id"]


def test_a_scope_hash_is_stable_and_does_not_contain_the_name() -> None:
    assert tracing.scope_hash("alice") == tracing.scope_hash("alice")
    assert tracing.scope_hash("alice") != tracing.scope_hash("bob")
    assert "alice" not in tracing.scope_hash("alice") and tracing.scope_hash(None) is None


def test_a_search_as_a_user_records_the_scope_hash_not_the_name() -> None:
    attributes = tracing.search_call({"index": "chunks", "params": None, "as_user": "alice"})
    assert attributes["es_rag.user_scope"] == tracing.scope_hash("alice")
    assert "alice" not in attributes.values()


def _answer(text: str) -> Answer:
    return Answer(text=text, citations=[], provider="test", extractive=False)


@pytest.mark.parametrize(("text", "coverage"), [
    ("RRF fuses rankings [1]. It needs no score normalisation [2].", 1.0),
    ("RRF fuses rankings [1]. It was invented on the moon.", 0.5),
    ('Extractive answer (quoted):\n"RRF fuses rankings. It is simple." [1]', 1.0),
    ("Nothing here is cited.", 0.0),
])
def test_citation_coverage_is_the_share_of_cited_sentences(text, coverage) -> None:
    assert citation_coverage(_answer(text)) == coverage


def test_a_refusal_has_no_coverage() -> None:
    assert is_refusal(_answer(DONT_KNOW)) and citation_coverage(_answer(DONT_KNOW)) is None
