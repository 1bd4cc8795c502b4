"""A field's values converted to its type as a document is parsed (or the parse error)."""

from __future__ import annotations

import math
from typing import Any

from ...dates import parse_date, parse_date_nanos
from ...errors import DocumentParsingError, MapperParsingError
from .fields import FLOAT_TYPES, INTEGER_TYPES, FieldSpec
from .ip import parse_ip


def _fail(spec: FieldSpec, value: Any, doc_id: str, cause: str) -> DocumentParsingError:
    return DocumentParsingError(
        f"failed to parse field [{spec.path}] of type [{spec.type}] in document with id "
        f"'{doc_id}'. Preview of field's value: '{value}'",
        caused_by={"type": "illegal_argument_exception", "reason": cause})


def convert(spec: FieldSpec, value: Any, doc_id: str) -> Any:
    """One value converted to the field's type, or None when it is not indexed."""
    ftype = spec.type
    if type(value) is str:
        if ftype == "text":
            return value
        if ftype == "keyword":
            return None if len(value) > spec.params.get("ignore_above", 2**31) else value
    elif type(value) is int and ftype in INTEGER_TYPES:
        return value
    if isinstance(value, dict):
        raise _fail(spec, value, doc_id, f"Can't parse [{ftype}] from an object")
    if ftype in ("text", "match_only_text"):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if ftype == "keyword":
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return None if len(text) > spec.params.get("ignore_above", 2**31) else text
    if ftype == "boolean":
        if value in (True, False):
            return value
        if value in ("true", "false", ""):
            return value == "true"
        raise _fail(spec, value, doc_id, f"Failed to parse value [{value}] as only [true] or "
                                         f"[false] are allowed.")
    if ftype == "ip":
        try:
            return parse_ip(value)
        except ValueError as err:
            if spec.params.get("ignore_malformed"):
                return None
            raise _fail(spec, value, doc_id, str(err)) from err
    if ftype in ("date", "date_nanos"):
        try:
            if ftype == "date_nanos":
                return parse_date_nanos(value, spec.date_format)
            return parse_date(value, spec.date_format)
        except ValueError as err:
            if spec.params.get("ignore_malformed"):
                return None
            raise _fail(spec, value, doc_id, str(err)) from err
    if ftype in INTEGER_TYPES or ftype in FLOAT_TYPES:
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if math.isnan(number) or math.isinf(number):
                raise ValueError
            if isinstance(value, str) and spec.params.get("coerce") is False:
                raise ValueError
        except (TypeError, ValueError) as err:
            if spec.params.get("ignore_malformed"):
                return None
            raise _fail(spec, value, doc_id, f"For input string: \"{value}\"") from err
        if ftype in INTEGER_TYPES:
            if not float(number).is_integer() and spec.params.get("coerce") is False:
                raise _fail(spec, value, doc_id, f"Value [{value}] has a decimal part")
            return int(number)
        return number
    raise MapperParsingError(f"No handler for type [{ftype}] declared on field [{spec.path}]")
