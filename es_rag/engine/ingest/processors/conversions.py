"""Processors that change a value's type or encoding: convert, bytes, json, fingerprint."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from es_rag.engine.errors import BadRequest
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument, java_type
from es_rag.engine.ingest.processors.base import FieldProcessor, Processor, StringFieldProcessor
from es_rag.engine.mustache import to_java_string

_JAVA_INT = re.compile(r"[+-]?\d+")
_JAVA_FLOAT = re.compile(r"\s*[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?)\s*")
_BYTE_UNITS = {"b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3,
               "gb": 1024**3, "t": 1024**4, "tb": 1024**4, "p": 1024**5, "pb": 1024**5}
_BYTE_SIZE = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def _java_integer(value: Any, bits: int, name: str) -> int:
    text = to_java_string(value)
    negative = text.startswith("-")
    digits = text[1:] if negative or text.startswith("+") else text
    if digits[:2].lower() == "0x" and re.fullmatch(r"[0-9a-fA-F]+", digits[2:]):
        number = int(digits[2:], 16) * (-1 if negative else 1)
    elif _JAVA_INT.fullmatch(text):
        number = int(text)
    else:
        raise BadRequest(f"unable to convert [{text}] to {name}")
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise BadRequest(f"unable to convert [{text}] to {name}")
    return number


def java_floating(value: Any, name: str) -> float:
    text = to_java_string(value)
    match = _JAVA_FLOAT.fullmatch(text)
    if not match:
        raise BadRequest(f"unable to convert [{text}] to {name}")
    number = float(match.group(1).rstrip("fFdD").replace("Infinity", "inf"))
    if text.strip().startswith("-"):
        number = -number
    # Elasticsearch keeps a Java float, which prints with float precision.
    return float(str(np.float32(number))) if name == "float" else number


def _boolean(value: Any) -> bool:
    text = to_java_string(value).lower()
    if text in ("true", "false"):
        return text == "true"
    raise BadRequest(f"[{to_java_string(value)}] is not a boolean value, cannot convert to boolean")


def _ip(value: Any) -> str:
    text = to_java_string(value)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise BadRequest(f"[{text}] is not a valid ipv4/ipv6 address") from None
    return text


def _auto(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    for convert in (_boolean, lambda v: _java_integer(v, 32, "integer"),
                    lambda v: _java_integer(v, 64, "long"), lambda v: java_floating(v, "float")):
        try:
            return convert(value)
        except BadRequest:
            continue
    return value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "integer": lambda v: _java_integer(v, 32, "integer"),
    "long": lambda v: _java_integer(v, 64, "long"),
    "float": lambda v: java_floating(v, "float"),
    "double": lambda v: java_floating(v, "double"),
    "boolean": _boolean,
    "string": to_java_string,
    "ip": _ip,
    "auto": _auto,
}


class Convert(FieldProcessor):
    type = "convert"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.convert_type = config.read_string("type")
        if self.convert_type not in _CONVERTERS:
            raise config.error("type", f"type [{self.convert_type}] not supported, cannot "
                                       "convert field.")
        self.converter = _CONVERTERS[self.convert_type]

    def null_message(self, field: str) -> str:
        return f"Field [{field}] is null, cannot be converted to type [{self.convert_type}]"

    def process(self, value: Any, field: str) -> Any:
        return self.converter(value)


class Bytes(StringFieldProcessor):
    type = "bytes"

    def process(self, value: Any, field: str) -> Any:
        return _byte_size(super().process(value, field), field)

    def process_item(self, item: Any, field: str) -> Any:
        return _byte_size(super().process_item(item, field), field)

    def transform(self, value: str) -> str:
        return value


def _byte_size(value: str, field: str) -> int:
    match = _BYTE_SIZE.fullmatch(value)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _BYTE_UNITS:
        raise BadRequest(f"failed to parse setting [{field}] with value [{value}] as a size in "
                         "bytes: unit is missing or unrecognized")
    return int(float(match.group(1)) * _BYTE_UNITS[unit])


class Json(Processor):
    type = "json"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_template("field")
        self.target_field = config.read_template("target_field", None)
        self.add_to_root = config.read_bool("add_to_root", False)
        self.merge = self._conflict_strategy(config)
        self.allow_duplicate_keys = config.read_bool("allow_duplicate_keys", False)
        self.strict = config.read_bool("strict_json_parsing", True)
        if self.add_to_root and self.target_field is not None:
            raise config.error("target_field", "Cannot set a target field while also setting "
                                               "`add_to_root` to true")

    def _conflict_strategy(self, config: ProcessorConfig) -> bool:
        strategy = config.read_string("add_to_root_conflict_strategy", None)
        if strategy is None:
            return False
        if not self.add_to_root:
            raise config.error("add_to_root_conflict_strategy", "Cannot set "
                               "`add_to_root_conflict_strategy` if `add_to_root` is false")
        if strategy not in ("replace", "merge"):
            raise config.error("add_to_root_conflict_strategy", f"conflict strategy "
                               f"[{strategy}] not supported, cannot convert field.")
        return strategy == "merge"

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        field = doc.render(self.field)
        value = self._parse(doc.get(field))
        if not self.add_to_root:
            doc.set(field if self.target_field is None else doc.render(self.target_field), value)
        elif not isinstance(value, dict):
            raise BadRequest("cannot add non-map fields to root of document")
        elif self.merge:
            _merge(doc.data, value)
        else:
            doc.data.update(value)
        return doc

    def _parse(self, raw: Any) -> Any:
        text = "null" if raw is None else to_java_string(raw)
        hook = None if self.allow_duplicate_keys else _no_duplicates
        decoder = json.JSONDecoder(object_pairs_hook=hook)
        stripped = text.lstrip()
        try:
            value, end = decoder.raw_decode(stripped)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"com.fasterxml.jackson.core.JsonParseException: {exc.msg} at "
                             f"[line: {exc.lineno}, column: {exc.colno}]") from None
        if self.strict and stripped[end:].strip():
            raise BadRequest("com.fasterxml.jackson.core.JsonParseException: expected a single "
                             f"JSON value, found more content in [{text}]")
        return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BadRequest(f"com.fasterxml.jackson.core.JsonParseException: Duplicate field "
                             f"'{key}'")
        result[key] = value
    return result


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


_DIGESTS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}


class Fingerprint(Processor):
    type = "fingerprint"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.fields = sorted(config.read_list("fields"))
        if not self.fields:
            raise config.error("fields", "must specify at least one field")
        self.target_field = config.read_string("target_field", "fingerprint")
        salt = config.read_string("salt", "")
        self.salt = salt.encode() if salt.strip() else b""
        method = config.read_string("method", "SHA-1")
        if method not in (*_DIGESTS, "MurmurHash3"):
            raise config.error("method", f"[{method}] must be one of the supported hash methods "
                                         "[MD5,SHA-1,SHA-256,SHA-512,MurmurHash3]")
        if method == "MurmurHash3":
            raise config.error("method", "[MurmurHash3] is not supported by the embedded engine")
        self.digest = _DIGESTS[method]
        self.ignore_missing = config.read_bool("ignore_missing", False)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        hasher = hashlib.new(self.digest)
        hasher.update(self.salt)
        stack: list[Any] = []
        for field in reversed(self.fields):
            value = doc.get(field, ignore_missing=True)
            if value is None:
                if self.ignore_missing:
                    continue
                raise BadRequest(f"missing field [{field}] when calculating fingerprint")
            stack.append(value)
        if not stack:
            return doc
        while stack:
            value = stack.pop()
            if isinstance(value, list):
                stack.extend(reversed(value))
            elif isinstance(value, dict):
                stack.extend(reversed([_Entry(k, v) for k, v in sorted(value.items())]))
            elif isinstance(value, _Entry):
                hasher.update(b"\0" + _to_bytes(value.key))
                stack.append(value.value)
            else:
                hasher.update(b"\0" + _to_bytes(value))
        doc.set(self.target_field, base64.b64encode(hasher.digest()).decode())
        return doc


class _Entry:
    def __init__(self, key: str, value: Any) -> None:
        self.key, self.value = key, value


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"\x01" if value else b"\x02"
    if isinstance(value, int):
        return struct.pack("<i", value) if -2**31 <= value < 2**31 else struct.pack("<q", value)
    if isinstance(value, float):
        return struct.pack("<d", value)
    if value is None:
        return b""
    raise BadRequest(f"cannot convert object of type [{java_type(value)}] to bytes")


PROCESSORS: list[type[Processor]] = [Convert, Bytes, Json, Fingerprint]
