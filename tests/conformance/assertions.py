"""The assertion steps of the format (match, length, is_true, gt, close_to, contains, ...)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .stash import java_string


class AssertionFailure(AssertionError):
    """An assertion step did not hold; the message names the field, expected and actual values."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def regex_pattern(value: Any) -> str | None:
    """The pattern of a ``/regex/`` expected value, else None."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 2 and text.startswith("/") and text.endswith("/"):
            return text[1:-1]
    return None


def first_difference(actual: Any, expected: Any, where: str = "") -> str | None:
    """Where two values differ (numbers compare by value), or None when they are equal."""
    if _is_number(actual) and _is_number(expected):
        both_ints = isinstance(actual, int) and isinstance(expected, int)
        same = actual == expected if both_ints else float(actual) == float(expected)
        return None if same else f"{where or 'value'}: {actual!r}"
    if isinstance(expected, dict) and isinstance(actual, dict):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            return f"{where or 'object'}: missing keys {missing}, unexpected keys {extra}"
        for key, value in expected.items():
            diff = first_difference(actual[key], value, f"{where}.{key}" if where else str(key))
            if diff:
                return diff
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(actual) != len(expected):
            return f"{where or 'list'}: length {len(actual)} instead of {len(expected)}"
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            diff = first_difference(a, e, f"{where}.{index}" if where else str(index))
            if diff:
                return diff
        return None
    if type(actual) is not type(expected) or actual != expected:
        return f"{where or 'value'}: {actual!r}"
    return None


def match(field: str, actual: Any, expected: Any) -> None:
    """Deep equality; a ``/regex/`` string is searched in COMMENTS (verbose) mode."""
    pattern = regex_pattern(expected)
    if pattern is not None:
        if actual is None:
            raise AssertionFailure(f"field [{field}] is null, expected to match /{pattern}/")
        text = actual if isinstance(actual, str) else java_string(actual)
        try:
            found = re.search(pattern, text, re.VERBOSE)
        except re.error as exc:
            raise AssertionFailure(f"invalid regex /{pattern}/: {exc}") from exc
        if not found:
            raise AssertionFailure(
                f"field [{field}] was expected to match the provided regex but didn't: "
                f"/{pattern}/ vs {text!r}")
        return
    if expected is None:
        if actual is not None:
            raise AssertionFailure(f"field [{field}] should be null but was {actual!r}")
        return
    if actual is None:
        raise AssertionFailure(f"field [{field}] is null, expected {expected!r}")
    diff = first_difference(actual, expected)
    if diff:
        raise AssertionFailure(
            f"field [{field}] does not match the expected value {expected!r}: "
            f"actual {actual!r} (differs at {diff})")


def length(field: str, actual: Any, expected: Any) -> None:
    """Size of an array/object, or length of a string."""
    if actual is None:
        raise AssertionFailure(f"field [{field}] is null, expected length {expected}")
    if not isinstance(actual, list | dict | str):
        raise AssertionFailure(f"field [{field}] has no length: {actual!r}")
    if isinstance(expected, str) and expected.isdigit():
        expected = int(expected)
    if not _is_number(expected) or len(actual) != expected:
        raise AssertionFailure(
            f"field [{field}] has length {len(actual)}, expected {expected!r}: {actual!r}")


def _falsy(actual: Any) -> bool:
    if actual is None:
        return True
    text = java_string(actual)
    return text in ("", "0") or text.lower() == "false"


def is_true(field: str, actual: Any, _expected: Any = None) -> None:
    """The value exists and is not false, null, empty, 0 or "false"."""
    if _falsy(actual):
        raise AssertionFailure(f"field [{field}] doesn't have a true value: {actual!r}")


def is_false(field: str, actual: Any, _expected: Any = None) -> None:
    """The value is missing, false, null, empty, 0 or "false"."""
    if not _falsy(actual):
        raise AssertionFailure(f"field [{field}] doesn't have a false value: {actual!r}")


def not_exists(field: str, actual: Any, _expected: Any = None) -> None:
    """The path resolves to nothing."""
    if actual is not None:
        raise AssertionFailure(f"field [{field}] exists: {actual!r}")


def exists(field: str, actual: Any, _expected: Any = None) -> None:
    """The path resolves to something."""
    if actual is None:
        raise AssertionFailure(f"field [{field}] does not exist")


def _comparison(symbol: str, holds: Callable[[Any, Any], bool]) -> Callable[[str, Any, Any], None]:
    def compare(field: str, actual: Any, expected: Any) -> None:
        comparable = (_is_number(actual) and _is_number(expected)) or (
            isinstance(actual, str) and isinstance(expected, str))
        if not comparable:
            raise AssertionFailure(
                f"field [{field}] cannot be compared: actual {actual!r} {symbol} {expected!r}")
        if not holds(actual, expected):
            raise AssertionFailure(f"field [{field}] is {actual!r}, expected {symbol} {expected!r}")

    compare.__doc__ = f"The value is {symbol} the expected one (numbers, or strings with strings)."
    return compare


gt = _comparison(">", lambda a, e: a > e)
gte = _comparison(">=", lambda a, e: a >= e)
lt = _comparison("<", lambda a, e: a < e)
lte = _comparison("<=", lambda a, e: a <= e)


def close_to(field: str, actual: Any, expected: Any) -> None:
    """|actual - value| <= error, with ``{value: v, error: e}`` as expected value."""
    if not isinstance(expected, dict) or not {"value", "error"} <= set(expected):
        raise AssertionFailure(f"close_to on [{field}] needs {{value, error}}, got {expected!r}")
    if not _is_number(actual):
        raise AssertionFailure(f"field [{field}] is not a number: {actual!r}")
    if abs(actual - expected["value"]) > expected["error"]:
        raise AssertionFailure(
            f"field [{field}] is {actual!r}, expected {expected['value']} ± {expected['error']}")


def contains(field: str, actual: Any, expected: Any) -> None:
    """A list holds the item (for a map: an element having all its keys/values); or a substring."""
    if isinstance(actual, str) and isinstance(expected, str):
        if expected not in actual:
            raise AssertionFailure(f"field [{field}] {actual!r} does not contain {expected!r}")
        return
    if not isinstance(actual, list):
        raise AssertionFailure(f"field [{field}] is not a list: {actual!r}")
    if isinstance(expected, dict):
        found = any(isinstance(item, dict) and all(
            k in item and first_difference(item[k], v) is None for k, v in expected.items())
            for item in actual)
    else:
        found = any(first_difference(item, expected) is None for item in actual)
    if not found:
        raise AssertionFailure(f"field [{field}] {actual!r} does not contain {expected!r}")


ASSERTIONS: dict[str, Callable[[str, Any, Any], None]] = {
    "match": match,
    "length": length,
    "is_true": is_true,
    "is_false": is_false,
    "not_exists": not_exists,
    "exists": exists,
    "gt": gt,
    "gte": gte,
    "lt": lt,
    "lte": lte,
    "close_to": close_to,
    "contains": contains,
}
# Assertions written as `kind: path` rather than `kind: {path: expected}`.
PATH_ONLY = frozenset({"is_true", "is_false", "not_exists", "exists"})
