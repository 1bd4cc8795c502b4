"""Similarities: `index.similarity.<name>` settings, a field's `similarity`, and the scoring
arithmetic of Lucene's `BM25Similarity` and `BooleanSimilarity` in float32, as Lucene does it.

Elasticsearch scores BM25 with `LegacyBM25Similarity`: Lucene's BM25 with the query boost
multiplied by `k1 + 1`. A document's length is the one-byte `SmallFloat.intToByte4` encoding of
its token count, decoded through Lucene's `LENGTH_TABLE`; `idf = ln(1 + (N - n + 0.5) / (n +
0.5))` over the documents that have the field; `avgdl = sumTotalTermFreq / docCount`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BadRequest

BUILT_IN = ("BM25", "boolean")
# Types Elasticsearch knows for `index.similarity.<name>.type` that the engine cannot score.
_KNOWN_TYPES = ("DFR", "IB", "LMDirichlet", "LMJelinekMercer", "DFI", "scripted")
_PARAMS = {"BM25": ("k1", "b", "discount_overlaps"), "boolean": ()}
PREFIX = "index.similarity."
F32 = np.float32


@dataclass(frozen=True)
class Similarity:
    """A similarity by name: `BM25` (k1, b, discount_overlaps) or `boolean`."""

    name: str
    type: str = "BM25"
    k1: float = 1.2
    b: float = 0.75
    discount_overlaps: bool = True

    @property
    def is_default_bm25(self) -> bool:
        """Whether tantivy's own BM25 (k1 1.2, b 0.75) already scores like this similarity."""
        return self.type == "BM25" and F32(self.k1) == F32(1.2) and F32(self.b) == F32(0.75)


DEFAULT = Similarity("BM25")
BOOLEAN = Similarity("boolean", "boolean")


def index_similarities(settings: dict[str, object]) -> dict[str, Similarity]:
    """The similarities an index defines in its flat `index.similarity.*` settings, validated
    with Elasticsearch's `SimilarityService` messages."""
    groups: dict[str, dict[str, object]] = {}
    for key, value in settings.items():
        if key.startswith(PREFIX):
            name, _, param = key[len(PREFIX):].partition(".")
            groups.setdefault(name, {})[param] = value
    out: dict[str, Similarity] = {}
    for name, params in groups.items():
        if name in BUILT_IN or name in _KNOWN_TYPES:
            raise BadRequest(f"Cannot redefine built-in Similarity [{name}]")
        kind = params.pop("type", None)
        if kind is None:
            raise BadRequest(f"Similarity [{name}] must have an associated type")
        kind = str(kind)
        if kind in _KNOWN_TYPES:
            raise BadRequest(f"Similarity type [{kind}] of [{name}] is not supported by the "
                             f"embedded engine (only BM25 and boolean are)")
        if kind not in BUILT_IN:
            raise BadRequest(f"Unknown Similarity type [{kind}] for [{name}]")
        unknown = sorted(set(params) - set(_PARAMS[kind]))
        if unknown:
            raise BadRequest(f"Unknown settings for similarity of type [{kind}]: "
                             f"[{', '.join(unknown)}]")
        if kind == "boolean":
            out[name] = Similarity(name, "boolean")
            continue
        k1 = _float(params.get("k1", 1.2), f"{PREFIX}{name}.k1")
        b = _float(params.get("b", 0.75), f"{PREFIX}{name}.b")
        if not math.isfinite(k1) or k1 < 0:
            raise BadRequest(f"illegal k1 value: {_java(k1)}, must be a non-negative finite "
                             "value")
        if not 0 <= b <= 1:
            raise BadRequest(f"illegal b value: {_java(b)}, must be between 0 and 1")
        overlaps = str(params.get("discount_overlaps", "true")).lower()
        if overlaps not in ("true", "false"):
            raise BadRequest(f"Failed to parse value [{overlaps}] as only [true] or [false] are "
                             f"allowed.")
        out[name] = Similarity(name, "BM25", k1, b, overlaps == "true")
    return out


def _float(value: object, setting: str) -> float:
    try:
        return float(str(value))
    except ValueError:
        raise BadRequest(f"Failed to parse value [{value}] for setting [{setting}]") from None


def _java(value: float) -> str:
    return str(F32(value))


def field_similarity(name: str | None, defined: dict[str, Similarity]) -> Similarity:
    """The similarity a field scores with: its own `similarity`, else the index's `default`
    similarity when it defines one, else BM25."""
    if name is None:
        return defined.get("default", DEFAULT)
    if name == "boolean":
        return BOOLEAN
    if name == "BM25":
        return DEFAULT
    return defined.get(name, DEFAULT)


def check_mapping(fields: Iterable[Any], settings: dict[str, object]) -> None:
    """Refuse mapped text and keyword fields (`FieldSpec`s) naming a similarity the index does
    not define."""
    defined = index_similarities(settings)
    for spec in fields:
        if spec.type in ("text", "keyword", "match_only_text") and "similarity" in spec.params:
            check_field_similarity(spec.path, spec.params["similarity"], defined)


def check_field_similarity(path: str, name: object, defined: dict[str, Similarity]) -> None:
    """Refuse a mapping `similarity` the index does not know (Elasticsearch's message)."""
    if name == "classic":
        raise BadRequest("The [classic] similarity may not be used anymore. Please use the "
                         "[BM25] similarity or build a custom [scripted] similarity instead.",
                         error_type="mapper_parsing_exception")
    if not isinstance(name, str) or (name not in BUILT_IN and name not in defined):
        raise BadRequest(f"Unknown Similarity type [{name}] for field [{path}]",
                         error_type="mapper_parsing_exception")


# -- Lucene's arithmetic ----------------------------------------------------------------------

def _long_to_int4(i: int) -> int:
    bits = i.bit_length()
    if bits < 4:
        return i
    shift = bits - 4
    return ((i >> shift) & 0x07) | ((shift + 1) << 3)


def _int4_to_long(i: int) -> int:
    bits, shift = i & 0x07, (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_FREE_VALUES = 255 - _long_to_int4(2**31 - 1)


def int_to_byte4(length: int) -> int:
    """`SmallFloat.intToByte4`: a token count as the norm byte Lucene stores."""
    if length < _FREE_VALUES:
        return length
    return _FREE_VALUES + _long_to_int4(length - _FREE_VALUES)


def byte4_to_int(norm: int) -> int:
    """`SmallFloat.byte4ToInt`: the length a norm byte stands for (`LENGTH_TABLE`)."""
    if norm < _FREE_VALUES:
        return norm
    return _FREE_VALUES + _int4_to_long(norm - _FREE_VALUES)


LENGTH_TABLE = [byte4_to_int(i) for i in range(256)]


@dataclass(frozen=True)
class TermStats:
    """Collection and term statistics of a term (or of a phrase's terms) in one field: Lucene's
    `CollectionStatistics` and `TermStatistics`."""

    doc_count: int               # documents with the field
    sum_total_term_freq: int     # tokens of the field over all documents
    doc_freqs: tuple[int, ...]   # documents with each term

    @property
    def avgdl(self) -> np.float32:
        return F32(self.sum_total_term_freq / self.doc_count) if self.doc_count else F32(1.0)

    def term_idf(self, doc_freq: int) -> np.float32:
        total = self.doc_count
        return F32(math.log(1 + (total - doc_freq + 0.5) / (doc_freq + 0.5)))

    @property
    def idf(self) -> np.float32:
        """One term's idf; a phrase's is the float sum of its terms'."""
        out = F32(0)
        for doc_freq in self.doc_freqs:
            out = F32(out + self.term_idf(doc_freq))
        return out


def bm25_norm_inverse(similarity: Similarity, stats: TermStats, dl: int) -> np.float32:
    """`1 / (k1 * ((1 - b) + b * dl / avgdl))` as Lucene's scorer caches it, in float32."""
    k1, b = F32(similarity.k1), F32(similarity.b)
    return F32(1) / (k1 * ((F32(1) - b) + b * F32(dl) / stats.avgdl))


def bm25_score(similarity: Similarity, stats: TermStats, freq: float, dl: int,
               boost: float = 1.0) -> float:
    """Elasticsearch's BM25 score of one document: `weight - weight / (1 + freq * normInverse)`
    with `weight = boost * (k1 + 1) * idf`; `dl` is the decoded length (`LENGTH_TABLE`)."""
    weight = F32(boost) * (F32(1) + F32(similarity.k1)) * stats.idf
    norm_inverse = bm25_norm_inverse(similarity, stats, dl)
    return float(weight - weight / (F32(1) + F32(freq) * norm_inverse))


def bm25_tf(similarity: Similarity, stats: TermStats, freq: float, dl: int) -> float:
    """The `tf` part Lucene's explanation shows: `1 - 1 / (1 + freq * normInverse)`."""
    norm_inverse = bm25_norm_inverse(similarity, stats, dl)
    return float(F32(1) - F32(1) / (F32(1) + F32(freq) * norm_inverse))
