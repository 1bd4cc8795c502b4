"""Request bodies: `Content-Encoding` decompressed incrementally, never beyond a size limit."""

from __future__ import annotations

import zlib

from ..errors import BadRequest, ContentTooLarge

# zlib window bits: gzip header and trailer, or a zlib (`deflate`) stream
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


def too_large(limit: int) -> ContentTooLarge:
    """The 413 for a body beyond `http.max_content_length`."""
    return ContentTooLarge(f"Request content is larger than the allowed limit [{limit}] bytes")


def decode_body(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """`raw` decompressed as its `Content-Encoding` says (other encodings pass unchanged, as
    Netty's decompressor passes them); output beyond `limit` bytes is never produced: a 413
    is raised as soon as it would be."""
    wbits = _WBITS.get(content_encoding.strip().lower())
    if wbits is None or not raw:
        return raw
    out = bytearray()
    data = raw
    while data:
        inflater = zlib.decompressobj(wbits)
        try:
            while not inflater.eof:
                chunk = inflater.decompress(data, limit + 1 - len(out))
                out += chunk
                if len(out) > limit:
                    raise too_large(limit)
                data = inflater.unconsumed_tail
                if not chunk and not data:
                    break  # the input ended before the stream did
        except zlib.error as err:
            raise _not_decodable(content_encoding) from err
        if not inflater.eof:
            raise _not_decodable(content_encoding)
        data = inflater.unused_data  # a gzip body may hold several members
    return bytes(out)


def _not_decodable(content_encoding: str) -> BadRequest:
    return BadRequest(f"the request body is not valid [{content_encoding.strip().lower()}] data "
                      f"(it is truncated or corrupt)")
