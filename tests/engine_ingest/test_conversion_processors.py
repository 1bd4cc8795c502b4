"""Given values of one type, convert, bytes, json and date turn them into another."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError


@pytest.mark.parametrize(("kind", "value", "expected"), [
    ("integer", "42", 42), ("integer", "0x1F", 31), ("long", "9000000000", 9000000000),
    ("float", "1.1", 1.1), ("double", "2.5e3", 2500.0), ("boolean", "TRUE", True),
    ("string", 12, "12"), ("string", False, "false"), ("ip", "::1", "::1"),
    ("auto", "true", True), ("auto", "7", 7), ("auto", "7.5", 7.5), ("auto", "text", "text"),
])
def test_convert_types(run, kind, value, expected):
    assert run([{"convert": {"field": "v", "type": kind}}], {"v": value}) == {"v": expected}


@pytest.mark.parametrize(("kind", "value", "message"), [
    ("integer", "4.5", r"unable to convert \[4.5\] to integer"),
    ("integer", "3000000000", r"unable to convert \[3000000000\] to integer"),
    ("boolean", "yes", r"\[yes\] is not a boolean value, cannot convert to boolean"),
    ("ip", "1.2.3", r"\[1.2.3\] is not a valid ipv4/ipv6 address"),
])
def test_convert_failures_are_illegal_arguments(run, kind, value, message):
    with pytest.raises(EngineError, match=message) as failure:
        run([{"convert": {"field": "v", "type": kind}}], {"v": value})
    assert (failure.value.status, failure.value.error_type) == (400, "illegal_argument_exception")


def test_convert_to_target_field_and_null_values(run):
    assert run([{"convert": {"field": "v", "type": "integer", "target_field": "n"}}],
               {"v": "1"}) == {"v": "1", "n": 1}
    with pytest.raises(EngineError, match=r"Field \[v\] is null, cannot be converted to type "
                                          r"\[integer\]"):
        run([{"convert": {"field": "v", "type": "integer"}}], {"v": None})


def test_unknown_convert_type_is_a_configuration_error(store):
    with pytest.raises(EngineError, match=r"\[type\] type \[date\] not supported") as failure:
        store.put("p", {"processors": [{"convert": {"field": "v", "type": "date"}}]})
    assert failure.value.body()["error"]["root_cause"][0] == {
        "type": "parse_exception", "reason": "[type] type [date] not supported, cannot convert "
        "field.", "processor_type": "convert", "property_name": "type"}


def test_bytes_parses_size_units(run):
    assert run([{"bytes": {"field": "s", "target_field": "n"}}], {"s": "1kb"}) == {
        "s": "1kb", "n": 1024}
    with pytest.raises(EngineError, match="unit is missing or unrecognized"):
        run([{"bytes": {"field": "s"}}], {"s": "12 parsecs"})


def test_json_processor_like_the_rest_tests(run):
    source = run([{"json": {"field": name}} for name in
                  ("foo_object", "foo_array", "foo_null", "foo_string", "foo_number",
                   "foo_boolean")],
                 {"foo_object": '{"hello": "world"}', "foo_array": "[1, 2, 3]", "foo_null": None,
                  "foo_string": '"bla bla"', "foo_number": 3, "foo_boolean": "true"})
    assert source == {"foo_object": {"hello": "world"}, "foo_array": [1, 2, 3],
                      "foo_null": None, "foo_string": "bla bla", "foo_number": 3,
                      "foo_boolean": True}


def test_json_add_to_root_duplicates_merge_and_lenient_parsing(run):
    assert run([{"json": {"field": "j", "add_to_root": True, "allow_duplicate_keys": True}}],
               {"j": '{"dupe": 1, "dupe": 2}'})["dupe"] == 2
    with pytest.raises(EngineError, match="Duplicate field 'dupe'"):
        run([{"json": {"field": "j"}}], {"j": '{"dupe": 1, "dupe": 2}'})
    merged = run([{"json": {"field": "j", "add_to_root": True,
                            "add_to_root_conflict_strategy": "merge"}}],
                 {"j": '{"foo": {"bar": "baz"}}', "foo": {"bar": "old", "qux": "quux"}})
    assert merged["foo"] == {"bar": "baz", "qux": "quux"}
    assert run([{"json": {"field": "m", "strict_json_parsing": False}}],
               {"m": "123 foo"}) == {"m": 123}
    with pytest.raises(EngineError, match="JsonParseException"):
        run([{"json": {"field": "m"}}], {"m": "123 foo"})
    with pytest.raises(EngineError, match="cannot add non-map fields to root of document"):
        run([{"json": {"field": "m", "add_to_root": True}}], {"m": "[1]"})


def test_date_formats_of_the_rest_tests(run):
    formats = {
        "s1": ("2018-02-05T13:44:56.657+0100", "yyyy-MM-dd'T'HH:mm:ss.SSSZZ",
               "2018-02-05T12:44:56.657Z"),
        "s2": ("2017-04-04 13:43:09 +0200", "yyyy-MM-dd HH:mm:ss Z", "2017-04-04T11:43:09.000Z"),
        "s3": ("10/Aug/2018:09:45:56 +0200", "dd/MMM/yyyy:H:m:s Z", "2018-08-10T07:45:56.000Z"),
        "s4": ("1", "UNIX", "1970-01-01T00:00:01.000Z"),
        "s5": ("1", "UNIX_MS", "1970-01-01T00:00:00.001Z"),
        "s6": ("4000000050d506482dbdf024", "TAI64N", "2012-12-22T01:00:46.767Z"),
        "s7": ("2018-02-05T13:44:56.657+0100", "ISO8601", "2018-02-05T12:44:56.657Z"),
    }
    source = run([{"date": {"field": name, "target_field": f"t_{name}", "formats": [fmt]}}
                  for name, (_, fmt, _) in formats.items()],
                 {name: value for name, (value, _, _) in formats.items()})
    assert {name: source[f"t_{name}"] for name in formats} == {
        name: expected for name, (_, _, expected) in formats.items()}


def test_date_timezones_and_output_format(run):
    source = run([
        {"date": {"field": "a", "target_field": "a_t", "formats": ["dd/MM/yyyy"],
                  "timezone": "Europe/Amsterdam"}},
        {"date": {"field": "b", "target_field": "b_t", "formats": ["ISO8601"],
                  "timezone": "+01:00"}},
        {"date": {"field": "c", "target_field": "c_t", "formats": ["ISO8601"],
                  "timezone": "+01:00"}},
        {"date": {"field": "d", "formats": ["yyyy-MM-dd", "dd MMMM yyyy hh:mm a"],
                  "output_format": "EEE dd/MM/yy HH:mm"}},
    ], {"a": "12/06/2010", "b": "2010-06-01T00:00:00.000", "c": "2010-06-01T00:00:00.000Z",
        "d": "05 March 2024 02:30 PM"})
    assert source["a_t"] == "2010-06-12T00:00:00.000+02:00"
    assert source["b_t"] == "2010-06-01T00:00:00.000+01:00"
    assert source["c_t"] == "2010-06-01T01:00:00.000+01:00"
    assert source["@timestamp"] == "Tue 05/03/24 14:30"


def test_unparseable_dates_and_bad_formats(run, store):
    with pytest.raises(EngineError, match=r"unable to parse date \[yesterday\]"):
        run([{"date": {"field": "d", "formats": ["yyyy-MM-dd"]}}], {"d": "yesterday"})
    with pytest.raises(EngineError, match=r"\[formats\] required property is missing"):
        store.put("p", {"processors": [{"date": {"field": "d"}}]})
    with pytest.raises(EngineError, match=r"Unsupported pattern letter \[Y\]"):
        store.put("p", {"processors": [{"date": {"field": "d", "formats": ["YYYY-ww"]}}]})
