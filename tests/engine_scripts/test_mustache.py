"""Search templates render with Elasticsearch's mustache: JSON escaping and its functions."""

from __future__ import annotations

import json

import pytest

from es_rag.engine.mustache import MustacheError, render


def test_values_are_json_escaped_not_html_escaped():
    text = render('{"q": "{{q}}"}', {"q": 'say "hi" & <b>\n\tbye\\'})
    assert text == '{"q": "say \\"hi\\" & <b>\\n\\tbye\\\\"}'
    assert json.loads(text) == {"q": 'say "hi" & <b>\n\tbye\\'}


def test_triple_mustache_and_ampersand_do_not_escape():
    assert render("{{{q}}}|{{& q}}", {"q": 'a"b'}) == 'a"b|a"b'


def test_scalars_print_like_java():
    assert render("{{a}} {{b}} {{c}} {{d}} [{{missing}}]",
                  {"a": 2, "b": True, "c": 2.0, "d": None}) == "2 true 2.0  []"


def test_to_json_of_lists_and_maps():
    params = {"ids": [1, "two", None], "filter": {"term": {"lang": "en"}}, "word": "x"}
    assert render("{{#toJson}}ids{{/toJson}}", params) == '[1,"two",null]'
    assert render("{{#toJson}}filter{{/toJson}}", params) == '{"term":{"lang":"en"}}'
    assert render("{{#toJson}}word{{/toJson}}", params) == "x"
    assert render("{{#toJson}}missing{{/toJson}}", params) == ""
    assert render("{{#tojson}} filter {{/tojson}}", params) == '{"term":{"lang":"en"}}'


def test_join_with_and_without_delimiter():
    params = {"tags": ["a", "b", "c"]}
    assert render("{{#join}}tags{{/join}}", params) == "a,b,c"
    assert render("{{#join delimiter='||'}}tags{{/join delimiter='||'}}", params) == "a||b||c"
    assert render("{{#join delimiter=' OR '}}tags{{/join}} {{#join}}tags{{/join}}",
                  params) == "a OR b OR c a,b,c"
    # like Elasticsearch, joining something that is not a list prints the identifier
    assert render("{{#join}}nothing{{/join}}", params) == "nothing"


def test_url_encoding_like_java_url_encoder():
    assert render("{{#url}}{{{q}}}{{/url}}", {"q": "a b/c?d=é~*"}) == "a+b%2Fc%3Fd%3D%C3%A9%7E*"


def test_list_indexing_and_dotted_names():
    params = {"hits": [{"id": "x"}, {"id": "y"}], "user": {"name": "ann"}}
    assert render("{{hits.1.id}} {{user.name}} [{{hits.9.id}}]", params) == "y ann []"


def test_sections_and_inverted_sections():
    template = ("{{#terms}}{{.}};{{/terms}}{{#user}}{{name}}{{/user}}"
                "{{^operator}}or{{/operator}}{{#flag}}!{{/flag}}")
    assert render(template, {"terms": ["a", "b"], "user": {"name": "ann"}, "flag": False}) == (
        "a;b;ann" + "or")
    assert render("{{operator}}{{^operator}}or{{/operator}}", {"operator": "and"}) == "and"


def test_broken_templates_raise_a_clear_error():
    with pytest.raises(MustacheError, match="Unexpected EOF") as failure:
        render("{{#section}} never closed", {})
    assert (failure.value.status, failure.value.error_type) == (400, "script_exception")
    assert failure.value.extra == {"script": "{{#section}} never closed", "lang": "mustache"}
    with pytest.raises(MustacheError, match="must contain one and only one identifier"):
        render("{{#toJson}}{{a}}{{/toJson}}", {"a": 1})
