"""Compact storage of `_source` that gives back the bytes the client sent, byte for byte.

A 384-d vector sent as JSON numbers takes ~8 KB of `_source`, most of a chunk. When the text of
a `dense_vector` value is exactly what one of the renderers below makes from its float32 values,
the store keeps the source with that array cut out, plus the float32 values (1.5 KB) and where
they go; reading renders the array again. Anything that does not render back exactly (other
number formats, values that are not float32, a field name that appears twice) stays as text.

Packed layout: a version byte, then per cut array `<offset u32><count u16><style u8>` and
`count` little-endian float32 values; offsets are positions in the shortened source.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np
import orjson

_VERSION = 1
_HEADER = struct.Struct("<IHB")
# style bits: how the client wrote the numbers (no bit: orjson's text of the float64 values)
PYTHON_REPR = 1  # Python's `repr` (the json module, so the elasticsearch client): 1e-05, not 1e-5
SPACED = 2       # ", " between values (json.dumps' default separators)
FLOAT32 = 4      # the shortest text of each float32 value (0.1), not of its float64 value
_STYLES = (PYTHON_REPR, 0, FLOAT32, SPACED | PYTHON_REPR, SPACED, SPACED | FLOAT32)


def render(vector: np.ndarray, style: int) -> bytes:
    """The JSON text of a float32 vector in one of the known styles."""
    if style & FLOAT32:
        text = orjson.dumps(vector, option=orjson.OPT_SERIALIZE_NUMPY)
    elif style & PYTHON_REPR:
        text = _as_repr(vector.astype(np.float64))
    else:
        text = orjson.dumps(vector.astype(np.float64), option=orjson.OPT_SERIALIZE_NUMPY)
    if style & SPACED:
        text = text.replace(b",", b", ")
    return text


def _as_repr(values: np.ndarray) -> bytes:
    """The JSON text of float64 values as Python's json module writes them (each number its
    `repr`). orjson writes the same digits, but without an exponent below 1e-4 (`0.00001234`
    for `1.234e-05`) and with one-digit exponents (`1e-7` for `1e-07`): those are rewritten."""
    size = np.abs(values)
    odd = np.flatnonzero(((size < 1e-4) & (size > 0)) | (size >= 1e16))
    if not len(odd):
        return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    parts, prev = [], 0
    for at in odd.tolist():
        if at > prev:
            parts.append(orjson.dumps(values[prev:at], option=orjson.OPT_SERIALIZE_NUMPY)[1:-1])
        parts.append(repr(float(values[at])).encode())
        prev = at + 1
    if prev < len(values):
        parts.append(orjson.dumps(values[prev:], option=orjson.OPT_SERIALIZE_NUMPY)[1:-1])
    return b"[" + b",".join(parts) + b"]"


def _array_span(raw: bytes, name: str) -> tuple[int, int] | None:
    """Start and end of the array value of `"name":` when the name occurs once in `raw`."""
    key = orjson.dumps(name)
    at = raw.find(key)
    if at < 0 or raw.find(key, at + 1) >= 0:
        return None
    pos = at + len(key)
    while pos < len(raw) and raw[pos] in b" \t\r\n":
        pos += 1
    if raw[pos:pos + 1] != b":":
        return None
    pos += 1
    while pos < len(raw) and raw[pos] in b" \t\r\n":
        pos += 1
    if raw[pos:pos + 1] != b"[":
        return None
    end = raw.find(b"]", pos)
    return None if end < 0 else (pos, end + 1)


def _style_of(text: bytes, vector: np.ndarray) -> int | None:
    comma = text.find(b",")
    spaced = SPACED if comma > 0 and text[comma + 1:comma + 2] == b" " else 0
    for style in _STYLES:
        if style & SPACED == spaced and render(vector, style) == text:
            return style
    return None


def pack(raw: bytes, vectors: Mapping[str, np.ndarray]) -> tuple[bytes, bytes | None]:
    """The source with the arrays of `vectors` (field path → float32 values) cut out, and the
    packed values; `(raw, None)` when nothing can be cut exactly."""
    cuts: list[tuple[int, int, int, np.ndarray]] = []
    for path, vector in vectors.items():
        if vector.dtype != np.float32 or len(vector) >= 1 << 16:
            continue
        span = _array_span(raw, path.rpartition(".")[2])
        if span is None:
            continue
        style = _style_of(raw[span[0]:span[1]], vector)
        if style is not None:
            cuts.append((span[0], span[1], style, vector))
    if not cuts:
        return raw, None
    cuts.sort(key=lambda cut: cut[0])
    kept, packed = [], [bytes([_VERSION])]
    prev = removed = 0
    for start, end, style, vector in cuts:
        if start < prev:  # overlapping spans: keep the text
            return raw, None
        kept.append(raw[prev:start])
        packed.append(_HEADER.pack(start - removed, len(vector), style))
        packed.append(vector.astype("<f4").tobytes())
        removed += end - start
        prev = end
    kept.append(raw[prev:])
    return b"".join(kept), b"".join(packed)


def unpack(source: bytes, packed: bytes | None) -> bytes:
    """The source as the client sent it, from what `pack` returned."""
    if packed is None:
        return source
    if packed[0] != _VERSION:
        raise ValueError(f"unknown packed source version [{packed[0]}]")
    out, prev, pos = [], 0, 1
    while pos < len(packed):
        offset, count, style = _HEADER.unpack_from(packed, pos)
        pos += _HEADER.size
        vector = np.frombuffer(packed, dtype="<f4", count=count, offset=pos)
        pos += 4 * count
        out.append(source[prev:offset])
        out.append(render(vector, style))
        prev = offset
    out.append(source[prev:])
    return b"".join(out)
