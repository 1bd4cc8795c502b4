"""Log-parsing processors (grok, dissect, csv, kv), network ones (community_id,
network_direction, uri_parts) and sort, urldecode, date_index_name, terminate behave as
Elasticsearch's; bad configurations are refused when the pipeline is stored."""

from __future__ import annotations

import pytest

from es_rag.engine.date_math_names import resolve
from es_rag.engine.errors import EngineError
from es_rag.engine.ingest.processors.grok import Grok, builtin_patterns


def test_grok_extracts_typed_fields_with_the_bundled_patterns(run):
    source = run([{"grok": {"field": "line", "patterns": [
        "%{IPORHOST:client} %{WORD:method} %{URIPATHPARAM:path} %{NUMBER:bytes:int} "
        "%{NUMBER:took:float}"]}}], {"line": "10.0.0.7 GET /docs?q=rag 5120 0.25"})
    assert source["client"] == "10.0.0.7"
    assert source["path"] == "/docs?q=rag"
    assert source["bytes"] == 5120 and source["took"] == 0.25


def test_grok_parses_an_apache_access_line():
    line = ('127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 '
            '2326 "http://www.example.com/start.html" "Mozilla/4.08"')
    captures = Grok(builtin_patterns(), "%{COMBINEDAPACHELOG}").captures(line)
    assert captures["clientip"] == "127.0.0.1"
    assert captures["verb"] == "GET" and captures["response"] == "200"
    assert captures["agent"] == '"Mozilla/4.08"'


def test_grok_custom_definitions_override_and_repeat_captures_give_a_list(run):
    source = run([{"grok": {"field": "f", "patterns": ["%{D:n}-%{D:n}"],
                            "pattern_definitions": {"D": "[0-9]"}}}], {"f": "4-2"})
    assert source["n"] == ["4", "2"]


def test_grok_trace_match_names_the_pattern_that_matched(store):
    result = store.simulate({"pipeline": {"processors": [{"grok": {
        "field": "f", "patterns": ["%{ONE:one}", "%{TWO:two}"],
        "pattern_definitions": {"ONE": "1", "TWO": "2"}, "trace_match": True}}]},
        "docs": [{"_source": {"f": "abc2xyz"}}]}, None, verbose=False)
    doc = result["docs"][0]["doc"]
    assert doc["_source"]["two"] == "2"
    assert doc["_ingest"]["_grok_match_index"] == "1"


def test_grok_without_a_match_fails_the_document(run):
    with pytest.raises(EngineError, match=r"Provided Grok expressions do not match field "
                                          r"value: \[abc\]"):
        run([{"grok": {"field": "f", "patterns": ["%{INT:n}"]}}], {"f": "abc"})


def test_grok_unknown_pattern_is_a_parse_exception_at_put_time(store):
    with pytest.raises(EngineError) as failure:
        store.put("p", {"processors": [{"grok": {"field": "f",
                                                 "patterns": ["%{NOPE:field}"]}}]})
    assert failure.value.error_type == "parse_exception"
    assert failure.value.reason == ("[patterns] Invalid regex pattern found in: "
                                    "[%{NOPE:field}]. Unable to find pattern [NOPE] in Grok's "
                                    "pattern dictionary")
    assert failure.value.extra["property_name"] == "patterns"


def test_the_bundled_pattern_bank_is_elasticsearchs_legacy_set():
    bank = builtin_patterns()
    assert len(bank) == 318
    assert bank["PATH"] == "(?:%{UNIXPATH}|%{WINPATH})"
    for name in bank:  # every pattern compiles, Oniguruma nested repeats (`.?*`) included
        Grok(bank, f"%{{{name}}}")


def test_dissect_splits_on_delimiters_with_padding_append_and_skip(run):
    source = run([{"dissect": {"field": "m", "append_separator": " ",
                               "pattern": "%{ts->} %{+ts} %{?level} [%{who}] %{msg}"}}],
                 {"m": "Apr-22    12:00 INFO [core] started up"})
    assert source == {"m": "Apr-22    12:00 INFO [core] started up", "ts": "Apr-22 12:00",
                      "who": "core", "msg": "started up"}


def test_dissect_repeated_keys_without_append_keep_the_last_and_trailing_text_is_ignored(run):
    source = run([{"dissect": {"field": "m", "pattern": "%{a} %{a} %{b},"}}],
                 {"m": "one two three,rest"})
    assert (source["a"], source["b"]) == ("two", "three")


def test_dissect_reference_keys_name_fields(run):
    source = run([{"dissect": {"field": "m", "pattern": "%{*k}=%{&k}"}}], {"m": "user=ann"})
    assert source["user"] == "ann"


def test_dissect_mismatch_and_bad_pattern(run, store):
    with pytest.raises(EngineError, match="Unable to find match for dissect pattern: "
                                          "%{a},%{b} against source: a b"):
        run([{"dissect": {"field": "m", "pattern": "%{a},%{b}"}}], {"m": "a b"})
    with pytest.raises(EngineError, match="Unable to parse pattern") as failure:
        store.put("p", {"processors": [{"dissect": {"field": "m", "pattern": "no keys"}}]})
    assert failure.value.status == 400
    with pytest.raises(EngineError, match="Found invalid key/reference associations: 'k'"):
        store.put("p", {"processors": [{"dissect": {"field": "m", "pattern": "%{*k} %{v}"}}]})


def test_csv_quotes_separators_trim_and_empty_values(run):
    source = run([{"csv": {"field": "row", "target_fields": ["a", "b", "c", "d"],
                           "separator": ";", "quote": "'", "trim": True, "empty_value": "-"}}],
                 {"row": " x ; 'y;''z' ;;w"})
    assert (source["a"], source["b"], source["c"], source["d"]) == ("x", "y;'z", "-", "w")


def test_csv_sets_nothing_after_a_final_separator(run):
    source = run([{"csv": {"field": "row", "target_fields": ["a", "b"], "empty_value": "-"}}],
                 {"row": "x,"})
    assert (source["a"], "b" in source) == ("x", False)


def test_csv_errors(run, store):
    with pytest.raises(EngineError, match="Unmatched quote"):
        run([{"csv": {"field": "row", "target_fields": ["a"]}}], {"row": '"open'})
    with pytest.raises(EngineError, match=r"\[separator\] separator has to be single"):
        store.put("p", {"processors": [{"csv": {"field": "r", "target_fields": ["a"],
                                                "separator": ";;"}}]})


def test_kv_splits_pairs_with_filters_prefix_and_brackets(run):
    source = run([{"kv": {"field": "q", "field_split": "&", "value_split": "=",
                          "exclude_keys": ["secret"], "prefix": "p_", "strip_brackets": True,
                          "target_field": "params"}}],
                 {"q": "a=1&b=<two>&secret=x&a=3"})
    assert source["params"] == {"p_a": ["1", "3"], "p_b": "two"}


def test_kv_missing_and_null_fields(run):
    with pytest.raises(EngineError, match=r"field \[q\] doesn't exist"):
        run([{"kv": {"field": "q", "field_split": "&", "value_split": "="}}], {})
    with pytest.raises(EngineError, match=r"field \[q\] is null, cannot extract key-value"):
        run([{"kv": {"field": "q", "field_split": "&", "value_split": "="}}], {"q": None})
    assert run([{"kv": {"field": "q", "field_split": "&", "value_split": "=",
                        "ignore_missing": True}}], {}) == {}


def test_sort_orders_a_list(run):
    assert run([{"sort": {"field": "v", "order": "desc"}}], {"v": [3, 10, 1]})["v"] == [10, 3, 1]
    assert run([{"sort": {"field": "v"}}], {"v": ["foo", "bar", "Baz"]})["v"] == [
        "Baz", "bar", "foo"]
    with pytest.raises(EngineError) as mixed:  # Java compares values of one class only
        run([{"sort": {"field": "v"}}], {"v": [1, "a"]})
    assert (mixed.value.status, mixed.value.error_type) == (500, "class_cast_exception")


def test_urldecode(run):
    assert run([{"urldecode": {"field": "u"}}],
               {"u": "https%3A%2F%2Felastic.co%2F?q=a+b"})["u"] == "https://elastic.co/?q=a b"
    with pytest.raises(EngineError, match=r'Error at index 1 in: "4z"'):
        run([{"urldecode": {"field": "u"}}], {"u": "a%4zb"})
    with pytest.raises(EngineError, match="Incomplete trailing escape"):
        run([{"urldecode": {"field": "u"}}], {"u": "a%4"})


def test_date_index_name_routes_to_a_dated_index(store):
    store.put("p", {"processors": [{"date_index_name": {
        "field": "date", "index_name_prefix": "events-", "date_rounding": "M"}}]})
    outcome = store.execute("p", index="events", doc_id="1",
                            source={"date": "2016-04-22T16:32:14.968Z"})
    assert outcome.index == "<events-{2016-04-22||/M{yyyy-MM-dd|UTC}}>"
    assert resolve(outcome.index) == "events-2016-04-01"
    store.put("q", {"processors": [{"date_index_name": {
        "field": "date", "index_name_prefix": "q-", "date_rounding": "M",
        "index_name_format": "yyyy.MM", "timezone": "+02:00"}}]})
    outcome = store.execute("q", index="events", doc_id="1",
                            source={"date": "2016-04-30T23:32:14.968Z"})
    assert outcome.index == "<q-{2016.05||/M{yyyy.MM|+02:00}}>"
    assert resolve(outcome.index) == "q-2016.05"


def test_pipeline_versioned_update(store):
    body = {"processors": [{"set": {"field": "a", "value": 1}}]}
    with pytest.raises(EngineError, match="but no pipeline was found"):
        store.put("v", body, if_version=1)
    store.put("v", {**body, "version": 1})
    with pytest.raises(EngineError, match=r"current version is \[1\]"):
        store.put("v", body, if_version=9)
    store.put("v", body, if_version=1)
    assert store.get("v")["v"]["version"] == 2


def test_community_id_of_a_tcp_flow_and_an_icmp_echo(run):
    # the flows of the Community ID specification's examples
    source = run([{"community_id": {}}], {
        "source": {"ip": "128.232.110.120", "port": 34855},
        "destination": {"ip": "66.35.250.204", "port": 80}, "network": {"transport": "TCP"}})
    assert source["network"]["community_id"] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    icmp = run([{"community_id": {"target_field": "cid"}}], {
        "source": {"ip": "192.168.0.89"}, "destination": {"ip": "192.168.0.1"},
        "network": {"iana_number": 1}, "icmp": {"type": 8, "code": 0}})
    assert icmp["cid"] == "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="


def test_community_id_skips_incomplete_flows_unless_told_not_to(run):
    assert run([{"community_id": {}}], {"source": {"ip": "10.0.0.1"}}) == {
        "source": {"ip": "10.0.0.1"}}
    with pytest.raises(EngineError):
        run([{"community_id": {"ignore_missing": False}}], {"source": {"ip": "10.0.0.1"}})
    with pytest.raises(EngineError, match=r"unable to parse source port \[http\]"):
        run([{"community_id": {}}], {
            "source": {"ip": "10.0.0.1", "port": "http"}, "destination": {"ip": "10.0.0.2",
                                                                          "port": 80},
            "network": {"transport": "udp"}})


def test_uri_parts_splits_a_url(run):
    source = run([{"uri_parts": {"field": "u", "remove_if_successful": True}}], {
        "u": "http://me:secret@www.example.com:8080/files/report.pdf?lang=en#page-2"})
    assert source == {"url": {
        "scheme": "http", "domain": "www.example.com", "port": 8080,
        "path": "/files/report.pdf", "extension": "pdf", "query": "lang=en",
        "fragment": "page-2", "user_info": "me:secret", "username": "me", "password": "secret",
        "original": "http://me:secret@www.example.com:8080/files/report.pdf?lang=en#page-2"}}


@pytest.mark.parametrize(("source_ip", "destination_ip", "direction"), [
    ("10.0.0.5", "10.1.2.3", "internal"), ("10.0.0.5", "8.8.8.8", "outbound"),
    ("8.8.8.8", "192.168.1.1", "inbound"), ("8.8.8.8", "1.1.1.1", "external")])
def test_network_direction_from_internal_networks(run, source_ip, destination_ip, direction):
    source = run([{"network_direction": {"internal_networks": ["private", "loopback"]}}],
                 {"source": {"ip": source_ip}, "destination": {"ip": destination_ip}})
    assert source["network"]["direction"] == direction


def test_network_direction_needs_networks(store):
    with pytest.raises(EngineError, match=r"\[internal_networks\] or \[internal_networks_field\] "
                                          "must be specified"):
        store.put("p", {"processors": [{"network_direction": {}}]})


def test_terminate_ends_only_the_current_pipeline(store):
    store.put("inner", {"processors": [{"set": {"field": "a", "value": 1}}, {"terminate": {}},
                                       {"set": {"field": "b", "value": 2}}]})
    store.put("outer", {"processors": [{"pipeline": {"name": "inner"}},
                                       {"set": {"field": "c", "value": 3}},
                                       {"terminate": {"if": "ctx.c == 3"}},
                                       {"set": {"field": "d", "value": 4}}]})
    outcome = store.execute("outer", index="docs", doc_id="1", source={})
    assert outcome.source == {"a": 1, "c": 3}
