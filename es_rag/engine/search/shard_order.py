"""Elasticsearch's order among equal scores: by shard, then by document within the shard.

Elasticsearch merges the top hits of an index's shards by score, then shard index, then
Lucene document number (`TopDocs.merge`, and the RRF `RankDoc` order). The engine holds an
index in one shard, so for an index created with several shards it computes the shard each
document would live on, as `OperationRouting` does from `_id`: Murmur3 (x86, 32 bits) of the
id's UTF-16 code units, modulo the routing shards (`number_of_shards` doubled up to 1024),
divided by the routing factor. Within a shard, documents keep their indexing order (`_seq_no`),
as in Lucene's segments. Custom `routing` is not kept by the engine, so it is not followed.
"""

from __future__ import annotations

_C1, _C2, _MASK = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _MASK


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """Murmur3 x86 32-bit hash as a signed int (Lucene's `StringHelper.murmurhash3_x86_32`)."""
    h = seed & _MASK
    whole = len(data) // 4 * 4
    for i in range(0, whole, 4):
        k = _rotl((int.from_bytes(data[i:i + 4], "little") * _C1) & _MASK, 15)
        h = _rotl(h ^ ((k * _C2) & _MASK), 13)
        h = (h * 5 + 0xE6546B64) & _MASK
    tail = data[whole:]
    if tail:
        k = 0
        for pos, byte in enumerate(tail):
            k ^= byte << (8 * pos)
        h ^= (_rotl((k * _C1) & _MASK, 15) * _C2) & _MASK
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def routing_num_shards(shards: int) -> int:
    """The default `index.number_of_routing_shards` of an index with `shards` shards."""
    return shards << max(1, 10 - (shards - 1).bit_length())


def shard_of(doc_id: str, shards: int) -> int:
    """The shard Elasticsearch routes a document with this `_id` to."""
    if shards <= 1:
        return 0
    data = doc_id.encode("utf-16-le", errors="surrogatepass")  # Java's chars, low byte first
    routing = routing_num_shards(shards)
    return (murmur3_32(data) % routing) // (routing // shards)
