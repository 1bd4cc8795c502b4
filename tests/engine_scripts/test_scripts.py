"""Stored search templates are kept across restarts and render into search requests."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.scripts import (
    ScriptNotFound,
    ScriptStore,
    render_search_template,
    search_body_from_template,
)

TEMPLATE_1 = {"script": {"lang": "mustache", "source": {
    "query": {"match": {"{{field}}": {"query": "{{value}}",
                                      "operator": "{{operator}}{{^operator}}or{{/operator}}"}}},
    "size": "{{size}}"}}}


@pytest.fixture
def scripts(tmp_path):
    return ScriptStore(tmp_path / "scripts.json")


def test_an_object_source_is_stored_as_json_text(scripts):
    scripts.put("template_1", TEMPLATE_1)
    assert scripts.get("template_1") == {"_id": "template_1", "found": True, "script": {
        "lang": "mustache",
        "source": '{"query":{"match":{"{{field}}":{"query":"{{value}}","operator":'
                  '"{{operator}}{{^operator}}or{{/operator}}"}}},"size":"{{size}}"}',
        "options": {"content_type": "application/json;charset=utf-8"}}}


def test_a_string_source_has_no_options(scripts):
    scripts.put("s", {"script": {"lang": "mustache", "source": '{"query": {"match_all": {}}}'}})
    assert scripts.get("s")["script"] == {"lang": "mustache",
                                          "source": '{"query": {"match_all": {}}}'}


def test_stored_and_inline_templates_render_the_same(scripts):
    scripts.put("template_1", TEMPLATE_1)
    params = {"size": "2", "field": "theField", "value": 'foo "bar"'}
    stored = render_search_template({"id": "template_1", "params": params}, scripts)
    inline = render_search_template({"source": TEMPLATE_1["script"]["source"],
                                     "params": params}, scripts)
    assert stored == inline == {"query": {"match": {"theField": {
        "query": 'foo "bar"', "operator": "or"}}}, "size": "2"}
    assert render_search_template({"params": params}, scripts, script_id="template_1") == stored


def test_templates_with_to_json_and_join(scripts):
    body = {"source": '{"query": {"terms": {"tag": {{#toJson}}tags{{/toJson}}}}, '
                      '"q": "{{#join}}tags{{/join}}"}',
            "params": {"tags": ["a", "b"]}}
    assert render_search_template(body, scripts) == {"query": {"terms": {"tag": ["a", "b"]}},
                                                     "q": "a,b"}


def test_scripts_survive_a_restart_and_can_be_deleted(tmp_path):
    ScriptStore(tmp_path / "scripts.json").put("t", TEMPLATE_1)
    reopened = ScriptStore(tmp_path / "scripts.json")
    assert reopened.get("t")["found"] is True
    reopened.delete("t")
    with pytest.raises(ScriptNotFound) as missing:
        ScriptStore(tmp_path / "scripts.json").get("t")
    assert (missing.value.status, missing.value.body()) == (404, {"_id": "t", "found": False})
    with pytest.raises(EngineError, match=r"stored script \[t\] does not exist") as gone:
        reopened.delete("t")
    assert gone.value.status == 404


def test_explain_and_profile_are_passed_to_the_search(scripts):
    scripts.put("template_1", TEMPLATE_1)
    body = search_body_from_template({"id": "template_1", "explain": True, "profile": True,
                                      "params": {"field": "f", "value": "v", "size": 1}},
                                     scripts)
    assert body["explain"] is True and body["profile"] is True and body["size"] == "1"


@pytest.mark.parametrize(("body", "message"), [
    ({"script": {"lang": "painless", "source": "1"}},
     r"script lang \[painless\] is not supported by the embedded engine"),
    ({"script": {"source": "x"}}, "must specify lang for stored script"),
    ({"script": {"lang": "mustache"}}, "must specify source for stored script"),
    ({"script": {"lang": "mustache", "source": ""}}, "source cannot be empty"),
    ({"script": {"lang": "mustache", "source": "{{#a}}"}}, "Unexpected EOF"),
    ({"template": {}}, r"unexpected field \[template\], expected \[script\]"),
])
def test_bad_scripts_are_refused(scripts, body, message):
    with pytest.raises(EngineError, match=message) as failure:
        scripts.put("bad", body)
    assert failure.value.status == 400


def test_script_ids_cannot_contain_a_hash(scripts):
    with pytest.raises(EngineError, match="id cannot contain '#' for stored script") as failure:
        scripts.put("a#b", TEMPLATE_1)
    assert failure.value.error_type == "action_request_validation_exception"


def test_a_corrupt_script_file_is_reported_clearly(tmp_path):
    (tmp_path / "scripts.json").write_text("{not json")
    with pytest.raises(ValueError, match="scripts.json is not valid JSON"):
        ScriptStore(tmp_path / "scripts.json")


def test_render_errors(scripts):
    with pytest.raises(EngineError, match=r"unable to find script \[unknown\] in cluster state") \
            as missing:
        render_search_template({"id": "unknown", "params": {}}, scripts)
    assert missing.value.status == 404
    with pytest.raises(EngineError) as invalid:
        render_search_template({"source": '{"size": {{size}}}', "params": {}}, scripts)
    assert invalid.value.error_type == "x_content_parse_exception"
    assert invalid.value.status == 400
    with pytest.raises(EngineError, match="template is missing") as empty:
        render_search_template({"params": {}}, scripts)
    assert empty.value.error_type == "action_request_validation_exception"
    with pytest.raises(EngineError, match=r"unknown field \[parms\]"):
        render_search_template({"source": "{}", "parms": {}}, scripts)
