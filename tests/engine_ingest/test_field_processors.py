"""Given documents and pipelines of field processors, the fields change as Elasticsearch's do."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError


def test_the_mutate_pipeline_of_the_elasticsearch_rest_tests(run):
    source = run([
        {"set": {"field": "new_field", "value": "new_value"}},
        {"append": {"field": "new_field", "value": ["item2", "item3", "item4"]}},
        {"rename": {"field": "field_to_rename", "target_field": "renamed_field"}},
        {"remove": {"field": "field_to_remove"}},
        {"lowercase": {"field": "field_to_lowercase"}},
        {"uppercase": {"field": "field_to_uppercase"}},
        {"trim": {"field": "field_to_trim"}},
        {"split": {"field": "field_to_split", "separator": "-"}},
        {"join": {"field": "field_to_join", "separator": "-"}},
        {"convert": {"field": "field_to_convert", "type": "integer"}},
        {"gsub": {"field": "field_to_gsub", "pattern": "-", "replacement": "."}},
        {"html_strip": {"field": "field_to_html_strip"}},
    ], {
        "field_to_rename": "value", "field_to_remove": "old_value",
        "field_to_lowercase": "LOWERCASE", "field_to_uppercase": "uppercase",
        "field_to_trim": "   trimmed   ", "field_to_split": "127-0-0-1",
        "field_to_join": ["127", "0", "0", "1"], "field_to_convert": ["127", "0", "0", "1"],
        "field_to_gsub": "127-0-0-1",
        "field_to_html_strip": "<p>this <title>is</title> a <b>test</b>",
    })
    assert source == {
        "new_field": ["new_value", "item2", "item3", "item4"], "renamed_field": "value",
        "field_to_lowercase": "lowercase", "field_to_uppercase": "UPPERCASE",
        "field_to_trim": "trimmed", "field_to_split": ["127", "0", "0", "1"],
        "field_to_join": "127-0-0-1", "field_to_convert": [127, 0, 0, 1],
        "field_to_gsub": "127.0.0.1", "field_to_html_strip": "\nthis \nis\n a test",
    }


def test_set_writes_nested_paths_templates_and_respects_override(run):
    source = run([
        {"set": {"field": "a.b.c", "value": "{{title}} by {{author.name}}"}},
        {"set": {"field": "title", "value": "ignored", "override": False}},
        {"set": {"field": "copy", "copy_from": "author"}},
        {"set": {"field": "tags.1", "value": "second"}},
        {"set": {"field": "{{kind}}_flag", "value": True}},
        {"set": {"field": "skipped", "value": "{{missing}}", "ignore_empty_value": True}},
    ], {"title": 'say "hi"', "author": {"name": "Ann"}, "tags": ["x", "y"], "kind": "draft"})
    assert source["a"] == {"b": {"c": 'say \\"hi\\" by Ann'}}
    assert source["title"] == 'say "hi"'
    assert source["copy"] == {"name": "Ann"}
    assert source["tags"] == ["x", "second"]
    assert source["draft_flag"] is True
    assert "skipped" not in source


def test_set_with_plain_text_media_type_does_not_escape(run):
    source = run([{"set": {"field": "out", "value": "{{title}}", "media_type": "text/plain"}}],
                 {"title": 'say "hi"'})
    assert source["out"] == 'say "hi"'


def test_metadata_fields_can_be_set_and_read(store):
    store.put("route", {"processors": [
        {"set": {"field": "_index", "value": "surprise"}},
        {"set": {"field": "_id", "value": "{{_id}}-copy"}},
        {"set": {"field": "seen_at", "copy_from": "_ingest.timestamp"}},
    ]})
    outcome = store.execute("route", index="test", doc_id="1", source={"field": "value"})
    assert (outcome.index, outcome.doc_id) == ("surprise", "1-copy")
    assert outcome.source["field"] == "value"
    assert outcome.source["seen_at"].endswith("Z")
    assert "_index" not in outcome.source


def test_append_converts_scalars_and_can_refuse_duplicates(run):
    source = run([
        {"append": {"field": "tags", "value": ["a", "b"], "allow_duplicates": False}},
        {"append": {"field": "fresh", "value": "one"}},
    ], {"tags": "a"})
    assert source == {"tags": ["a", "b"], "fresh": ["one"]}


def test_remove_lists_keep_and_ignore_missing(run):
    assert run([{"remove": {"field": ["a", "b.c"]}}],
               {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}) == {"b": {"d": 3}, "e": 4}
    assert run([{"remove": {"keep": ["b.d"]}}], {"a": 1, "b": {"c": 2, "d": 3}}) == {"b": {"d": 3}}
    assert run([{"remove": {"field": "nope", "ignore_missing": True}}], {"a": 1}) == {"a": 1}
    with pytest.raises(EngineError, match=r"field \[nope\] not present as part of path \[nope\]"):
        run([{"remove": {"field": "nope"}}], {"a": 1})


def test_rename_refuses_missing_fields_and_existing_targets(run):
    assert run([{"rename": {"field": "a", "target_field": "b.c"}}], {"a": 1}) == {"b": {"c": 1}}
    with pytest.raises(EngineError, match=r"field \[a\] doesn't exist") as missing:
        run([{"rename": {"field": "a", "target_field": "b"}}], {})
    assert missing.value.status == 400
    assert missing.value.error_type == "illegal_argument_exception"
    with pytest.raises(EngineError, match=r"field \[b\] already exists"):
        run([{"rename": {"field": "a", "target_field": "b"}}], {"a": 1, "b": 2})
    assert run([{"rename": {"field": "a", "target_field": "b", "override": True}}],
               {"a": 1, "b": 2}) == {"b": 1}


def test_dot_expander_expands_one_field_or_all(run):
    assert run([{"dot_expander": {"field": "foo.bar"}}],
               {"foo.bar": 1, "foo": {"baz": 2}}) == {"foo": {"bar": 1, "baz": 2}}
    assert run([{"dot_expander": {"field": "*"}}], {"a.b": 1, "c.d": 2}) == {
        "a": {"b": 1}, "c": {"d": 2}}
    with pytest.raises(EngineError, match=r"cannot expand \[foo.bar\], because \[foo\] is not"):
        run([{"dot_expander": {"field": "foo.bar"}}], {"foo.bar": 1, "foo": "text"})


def test_string_processors_work_on_lists_and_reject_other_types(run):
    assert run([{"uppercase": {"field": "tags"}}], {"tags": ["a", "b"]}) == {"tags": ["A", "B"]}
    assert run([{"trim": {"field": "t", "target_field": "u"}}], {"t": " x "}) == {
        "t": " x ", "u": "x"}
    with pytest.raises(EngineError, match=r"field \[n\] of type \[java.lang.Integer\] cannot be "
                                          r"cast to \[java.lang.String\]"):
        run([{"lowercase": {"field": "n"}}], {"n": 3})
    with pytest.raises(EngineError, match=r"field \[n\] is null, cannot process it."):
        run([{"lowercase": {"field": "n"}}], {"n": None})
    assert run([{"lowercase": {"field": "n", "ignore_missing": True}}], {}) == {}


def test_split_keeps_trailing_empties_only_when_asked(run):
    assert run([{"split": {"field": "s", "separator": r"\s*,\s*"}}], {"s": "a , b,,"}) == {
        "s": ["a", "b"]}
    assert run([{"split": {"field": "s", "separator": ",", "preserve_trailing": True}}],
               {"s": "a,b,,"}) == {"s": ["a", "b", "", ""]}


def test_gsub_uses_java_group_references(run):
    source = run([{"gsub": {"field": "d", "pattern": r"(\d+)-(?<month>\d+)",
                            "replacement": "${month}/$1 \\$"}}], {"d": "2024-05"})
    assert source == {"d": "05/2024 $"}


def test_join_requires_a_list(run):
    with pytest.raises(EngineError, match=r"cannot be cast to \[java.util.List\]"):
        run([{"join": {"field": "s", "separator": ","}}], {"s": "text"})


def test_fingerprint_is_stable_and_salted(run):
    first = run([{"fingerprint": {"fields": ["b", "a"]}}], {"a": "x", "b": {"c": [1, True]}})
    again = run([{"fingerprint": {"fields": ["a", "b"]}}], {"b": {"c": [1, True]}, "a": "x"})
    salted = run([{"fingerprint": {"fields": ["a", "b"], "salt": "pepper"}}],
                 {"a": "x", "b": {"c": [1, True]}})
    assert first["fingerprint"] == again["fingerprint"] != salted["fingerprint"]
    with pytest.raises(EngineError, match=r"missing field \[a\] when calculating fingerprint"):
        run([{"fingerprint": {"fields": ["a"]}}], {})


def test_templates_can_leave_values_unescaped_or_url_encode_them(run):
    source = run([
        {"set": {"field": "raw", "value": "{{{title}}}"}},
        {"set": {"field": "url", "value": "q={{title}}",
                 "media_type": "application/x-www-form-urlencoded"}},
        {"set": {"field": "when", "value": "{{_ingest.timestamp}}"}},
    ], {"title": 'a "b" c'})
    assert source["raw"] == 'a "b" c'
    assert source["url"] == "q=a+%22b%22+c"
    assert source["when"].endswith("Z")


def test_gsub_refuses_references_to_missing_groups(store):
    with pytest.raises(EngineError, match=r"\[replacement\] No group 2") as failure:
        store.put("p", {"processors": [{"gsub": {"field": "f", "pattern": "(a)",
                                                 "replacement": "$2"}}]})
    assert failure.value.error_type == "parse_exception"


def test_foreach_runs_a_processor_on_each_element_and_entry(run):
    source = run([
        {"foreach": {"field": "chunks", "processor": {"trim": {"field": "_ingest._value"}}}},
        {"foreach": {"field": "scores", "processor": {
            "convert": {"field": "_ingest._value", "type": "integer"}}}},
        {"foreach": {"field": "missing", "ignore_missing": True,
                     "processor": {"uppercase": {"field": "_ingest._value"}}}},
    ], {"chunks": [" a ", "b "], "scores": {"x": "1", "y": "2"}})
    assert source == {"chunks": ["a", "b"], "scores": {"x": 1, "y": 2}}
    with pytest.raises(EngineError, match=r"field \[s\] of type \[java.lang.String\] cannot be "
                                          r"cast to a list or map"):
        run([{"foreach": {"field": "s", "processor": {"trim": {"field": "_ingest._value"}}}}],
            {"s": "text"})


def test_foreach_needs_exactly_one_processor(store):
    with pytest.raises(EngineError, match=r"\[processor\] Must specify exactly one processor"):
        store.put("p", {"processors": [{"foreach": {"field": "f", "processor": {
            "trim": {"field": "_ingest._value"}, "uppercase": {"field": "_ingest._value"}}}}]})
    with pytest.raises(EngineError, match=r"No processor type exists with name \[nope\]"):
        store.put("p", {"processors": [{"foreach": {"field": "f", "processor": {"nope": {}}}}]})
