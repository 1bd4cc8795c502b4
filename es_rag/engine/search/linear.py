"""The `linear` retriever: weighted sum of normalized sub-retriever scores, as Elasticsearch's."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from ..errors import BadRequest, ParsingError, XContentParseError
from ..query import parse_query
from ..query.explanation import java_float
from .multi_field import parse_multi_field

# (score, index number, document key), best first — the executor's ranked hit
Hit = tuple[float, int, int]

NORMALIZERS = ("none", "minmax", "l2_norm")
LINEAR_FEATURE = "linear retriever"
_EPSILON = 1e-6
_DEFAULT_WINDOW = 10
_FIELDS = {"retrievers", "rank_window_size", "normalizer", "filter", "_name", "min_score",
           "query", "fields"}
_COMPONENT_FIELDS = {"retriever", "weight", "normalizer"}


class LinearNode(Protocol):
    """What fusion reads of a `linear` node of the retriever tree (`retrievers.Retriever`)."""

    children: list[tuple[Any, float]]  # (child retriever, weight)
    normalizers: list[str]
    rank_window_size: int | None
    min_score: float | None


def parse_linear(spec: dict[str, Any], parse_child: Callable[[Any], Any]) -> dict[str, Any]:
    """Parse a `linear` retriever body: `retrievers` as `{retriever, weight, normalizer}`
    components, a top-level `normalizer` (the default of components without their own),
    `rank_window_size`, `filter` and `min_score`; the fields of its `Retriever` node (the
    children parsed by `parse_child`)."""
    for key in spec:
        if key not in _FIELDS:
            raise ParsingError(f"[linear] unknown field [{key}]",
                               error_type="x_content_parse_exception")
    top = spec.get("normalizer")
    if top is not None:
        top = _normalizer(top, "[linear] failed to parse field [normalizer]")
    items = spec.get("retrievers")
    if items is not None and not isinstance(items, list):
        raise XContentParseError("[linear] failed to parse field [retrievers]")
    multi_field = parse_multi_field("linear", spec, items, top)
    children: list[tuple[Any, float]] = []
    normalizers: list[str] = [top] if multi_field is not None and top else []
    for item in items if multi_field is None else ():
        child, weight, normalizer = _component(item, parse_child)
        children.append((child, weight))
        normalizers.append(normalizer or top or "none")
    window = spec.get("rank_window_size", _DEFAULT_WINDOW)
    if not isinstance(window, int) or isinstance(window, bool):
        raise XContentParseError("[linear] rank_window_size doesn't support values of type: "
                                 f"{type(window).__name__}")
    if window < 1:
        raise BadRequest("[rank_window_size] must be greater than [0]")
    min_score = spec.get("min_score")
    if min_score is not None and not isinstance(min_score, int | float):
        raise XContentParseError("[linear] failed to parse field [min_score]")
    flt = spec.get("filter", [])
    return {"children": children, "normalizers": normalizers, "rank_window_size": window,
            "multi_field": multi_field,
            "min_score": None if min_score is None else float(min_score),
            "filters": [parse_query(f) for f in (flt if isinstance(flt, list) else [flt])]}


def _component(item: Any, parse_child: Callable[[Any], Any]) -> tuple[Any, float, str | None]:
    """One `{retriever, weight, normalizer}` entry of `retrievers`."""
    where = "[linear] failed to parse field [retrievers]"
    if not isinstance(item, dict):
        raise XContentParseError(where)
    for key in item:
        if key not in _COMPONENT_FIELDS:
            raise XContentParseError(
                f"[retriever-component] unknown field [{key}]",
                caused_by={"type": "x_content_parse_exception",
                           "reason": f"[retriever-component] unknown field [{key}]"})
    if "retriever" not in item:
        raise XContentParseError(
            "Required [retriever]",
            caused_by={"type": "illegal_argument_exception", "reason": "Required [retriever]"})
    weight = item.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool):
        raise XContentParseError(where)
    if weight < 0:
        raise XContentParseError(where, caused_by={"type": "illegal_argument_exception",
                                                   "reason": "[weight] must be non-negative"})
    normalizer = item.get("normalizer")
    if normalizer is not None:
        normalizer = _normalizer(normalizer, where)
    return parse_child(item["retriever"]), float(weight), normalizer


def _normalizer(name: Any, where: str) -> str:
    """ScoreNormalizer.valueOf: a known name, case-insensitively."""
    if isinstance(name, str) and name.lower() in NORMALIZERS:
        return name.lower()
    raise XContentParseError(where, caused_by={"type": "illegal_argument_exception",
                                               "reason": f"Unknown normalizer [{name}]"})


def normalize(name: str, scores: list[float]) -> list[float]:
    """A result set's scores under a normalizer, as Elasticsearch's ScoreNormalizer classes:
    `minmax` maps to (s - min) / (max - min) (all 1.0 when max and min are within 1e-6),
    `l2_norm` divides by the L2 norm (unchanged when the norm is below 1e-6), `none` keeps
    the scores; NaN scores count as 0 in the sum."""
    valid = [s for s in scores if not math.isnan(s)]
    if not valid or name == "none":
        return list(scores)
    if name == "minmax":
        low, high = min(valid), max(valid)
        if abs(high - low) < _EPSILON:
            return [1.0 for _ in scores]
        return [(s - low) / (high - low) for s in scores]
    norm = math.sqrt(sum(s * s for s in valid))
    if norm < _EPSILON:
        return list(scores)
    return [s / norm for s in scores]


def fuse(node: LinearNode, ranked_lists: list[list[Hit]], rank: Callable[[list[Hit]], None]
         ) -> list[Hit]:
    """The linear combination of the children's ranked hits, ordered by `rank`, cut to
    `rank_window_size`, then to `min_score`."""
    combined: dict[tuple[int, int], float] = {}
    for (_, weight), normalizer, ranked in zip(node.children, node.normalizers, ranked_lists,
                                               strict=True):
        normalized = normalize(normalizer, [score for score, _, _ in ranked])
        for score, (_, num, key) in zip(normalized, ranked, strict=True):
            share = 0.0 if math.isnan(score) else weight * score
            combined[(num, key)] = combined.get((num, key), 0.0) + share
    hits = [(score, num, key) for (num, key), score in combined.items()]
    rank(hits)
    hits = hits[:node.rank_window_size or _DEFAULT_WINDOW]
    if node.min_score is not None:
        hits = [hit for hit in hits if hit[0] >= node.min_score]
    return hits


def normalized_scores(node: LinearNode, ranked_lists: list[list[Hit]], num: int, key: int
                      ) -> list[float]:
    """One document's normalized score in each child's result set (0 where it is absent)."""
    out = []
    for normalizer, ranked in zip(node.normalizers, ranked_lists, strict=True):
        normalized = normalize(normalizer, [score for score, _, _ in ranked])
        out.append(next((s for s, (_, n, k) in zip(normalized, ranked, strict=True)
                         if (n, k) == (num, key)), 0.0))
    return out


def explain_text(node: LinearNode, score: float, normalized: list[float]) -> str:
    """The description of a linear hit's explanation, as LinearRankDoc's."""
    weights = [w for _, w in node.children]
    return (f"weighted linear combination score: [{score:.6f}] computed for normalized "
            f"scores {_floats(normalized)} and weights {_floats(weights)} as sum of "
            f"(weight[i] * score[i]) for each query.")


def _floats(values: list[float]) -> str:
    return "[" + ", ".join(java_float(v) for v in values) + "]"
