"""The `completion` field type: suggestion inputs with weights, checked and kept in `_source`
as CompletionFieldMapper parses them (the suggest API is not served)."""

from __future__ import annotations

from typing import Any

from ...errors import DocumentParsingError, MapperParsingError

PARAMS = {"type", "analyzer", "search_analyzer", "preserve_separators",
          "preserve_position_increments", "max_input_length", "contexts", "meta"}
_MAX_WEIGHT = 2**31 - 1
_RESERVED = {"\u001f": "0x1F", "\u0000": "0x00", "\u001e": "0x1E"}


def check_completion(name: str, body: dict[str, Any]) -> None:
    """A completion mapping, with the parameters Elasticsearch always shows set."""
    if body.get("contexts"):
        raise MapperParsingError(f"parameter [contexts] on mapper [{name}] is not supported by "
                                 f"the embedded engine")
    body.setdefault("analyzer", "simple")
    body.setdefault("preserve_separators", True)
    body.setdefault("preserve_position_increments", True)
    body.setdefault("max_input_length", 50)


def completion_inputs(path: str, value: Any, doc_id: str) -> list[tuple[str, int]]:
    """(input, weight) pairs of a completion value: a string, an object with `input` (a string
    or strings) and `weight`, or an array of these."""
    out: list[tuple[str, int]] = []
    for item in value if isinstance(value, list) else [value]:
        if item is None:
            continue
        try:
            out += _one(item)
        except ValueError as err:
            raise DocumentParsingError(
                f"failed to parse field [{path}] of type [completion] in document with id "
                f"'{doc_id}'. Preview of field's value: '{item}'",
                caused_by={"type": "illegal_argument_exception", "reason": str(err)}) from err
    return out


def _one(item: Any) -> list[tuple[str, int]]:
    if isinstance(item, str):
        return [(_checked(item), 1)]
    if not isinstance(item, dict):
        raise ValueError(f"failed to parse, expected text or object, but got "
                         f"{_token(item)}")
    unknown = sorted(set(item) - {"input", "weight", "contexts"})
    if unknown:
        raise ValueError(f"unknown field name [{unknown[0]}], must be one of "
                         f"[input, weight, contexts]")
    inputs = item.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    elif not isinstance(inputs, list):
        raise ValueError(f"input must be a string or array, but was [{_token(inputs)}]")
    elif not all(isinstance(i, str) for i in inputs):
        raise ValueError("input array must have string values, but was [VALUE_NUMBER]")
    weight = _weight(item.get("weight", 1))
    return [(_checked(text), weight) for text in inputs]


def _weight(value: Any) -> int:
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError as err:
            raise ValueError(f"weight must be an integer, but was [{value}]") from err
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float):
        raise ValueError(f"weight must be an integer, but was [{value}]")
    else:
        raise ValueError(f"weight must be a number or string, but was [{_token(value)}]")
    if not 0 <= number <= _MAX_WEIGHT:
        raise ValueError(f"weight must be in the interval [0..{_MAX_WEIGHT}], but was "
                         f"[{number}]")
    return number


def _checked(text: str) -> str:
    for char, code in _RESERVED.items():
        if char in text:
            raise ValueError(f"Illegal input [{code}] reserved character in value [{text}]")
    return text


def _token(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, int | float):
        return "VALUE_NUMBER"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_NULL" if value is None else "START_OBJECT"
