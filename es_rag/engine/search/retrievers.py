"""Retrievers (`standard`, `knn`, `rrf`, `linear`) parsed into a small tree the executor walks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest, ParsingError, XContentParseError
from ..query import parse_query
from ..query.base import QueryNode
from ..query.knn import KnnSpec
from .collapse import CollapseSpec, parse_collapse


@dataclass
class Retriever:
    """A node of the retriever tree."""

    kind: str
    query: QueryNode | None = None
    filters: list[QueryNode] = field(default_factory=list)
    knn: KnnSpec | None = None
    children: list[tuple[Retriever, float]] = field(default_factory=list)
    normalizers: list[str] = field(default_factory=list)  # `linear`: one per child
    rank_constant: int = 60
    rank_window_size: int | None = None
    min_score: float | None = None
    sort: Any = None
    search_after: list[Any] | None = None
    collapse: CollapseSpec | None = None
    terminate_after: int | None = None


def parse_retriever(body: Any) -> Retriever:
    """Parse `{"standard"|"knn"|"rrf"|"linear": {...}}`; other retrievers are refused."""
    if not isinstance(body, dict) or len(body) != 1:
        raise ParsingError("retriever malformed, must contain exactly one retriever")
    kind, spec = next(iter(body.items()))
    if not isinstance(spec, dict):
        raise ParsingError(f"[{kind}] retriever malformed")
    if kind == "standard":
        allowed = {"query", "filter", "min_score", "sort", "_name", "search_after",
                   "terminate_after", "collapse"}
        _check(kind, spec, allowed)
        flt = spec.get("filter", [])
        terminate_after = spec.get("terminate_after")
        if terminate_after is not None and (not isinstance(terminate_after, int) or
                                            terminate_after < 0):
            raise BadRequest("terminateAfter must be > 0")
        return Retriever("standard", query=parse_query(spec["query"]) if "query" in spec
                         else None, filters=[parse_query(f) for f in
                                             (flt if isinstance(flt, list) else [flt])],
                         min_score=spec.get("min_score"), sort=spec.get("sort"),
                         search_after=spec.get("search_after"),
                         collapse=parse_collapse(spec["collapse"]) if spec.get("collapse")
                         is not None else None, terminate_after=terminate_after or None)
    if kind == "knn":
        for key in ("k", "num_candidates"):
            if key not in spec:
                raise ParsingError(f"[knn] failed to parse: [{key}] is required",
                                   error_type="x_content_parse_exception")
        return Retriever("knn", knn=KnnSpec(spec, where="knn", require_k=True))
    if kind == "rrf":
        _check(kind, spec, {"retrievers", "rank_constant", "rank_window_size", "filter",
                            "_name", "min_score"})
        items = spec.get("retrievers")
        if not isinstance(items, list) or not items:
            raise ParsingError("[rrf] failed to parse field [retrievers]",
                               error_type="x_content_parse_exception")
        children = [_rrf_component(item) for item in items]
        rank_constant = int(spec.get("rank_constant", 60))
        if rank_constant < 1:
            raise BadRequest("[rank_constant] must be greater or equal to [1] for [rrf]")
        window = spec.get("rank_window_size")
        if window is not None and int(window) < 1:
            raise BadRequest("[rank_window_size] must be greater than [0]")
        flt = spec.get("filter", [])
        retriever = Retriever("rrf", children=children, rank_constant=rank_constant,
                              rank_window_size=None if window is None else int(window),
                              filters=[parse_query(f) for f in
                                       (flt if isinstance(flt, list) else [flt])])
        return retriever
    if kind == "linear":
        from .linear import parse_linear

        return parse_linear(spec, parse_retriever)
    if kind in ("text_similarity_reranker", "rule", "rescorer", "pinned"):
        raise BadRequest(f"retriever [{kind}] is not supported by the embedded engine")
    raise ParsingError(f"unknown retriever [{kind}]", error_type="x_content_parse_exception")


def _rrf_component(item: Any) -> tuple[Retriever, float]:
    """One entry of rrf's `retrievers`: a retriever, or a `{retriever, weight}` component."""
    if not isinstance(item, dict) or not item:
        raise ParsingError("retriever component must contain a retriever")
    if next(iter(item)) not in ("retriever", "weight"):
        if len(item) > 1:
            raise ParsingError(f"unknown field [{list(item)[1]}] after retriever")
        return parse_retriever(item), 1.0
    for key in item:
        if key not in ("retriever", "weight"):
            raise ParsingError(f"unknown field [{key}], expected [retriever] or [weight]")
    if "retriever" not in item:
        raise ParsingError("retriever component must contain a retriever")
    weight = item.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool):
        raise ParsingError(f"[weight] must be a number, found [{weight}]")
    if weight < 0:
        reason = f"[weight] must be non-negative, found [{float(weight)}]"
        raise XContentParseError("[rrf] failed to parse field [retrievers]",
                                 caused_by={"type": "illegal_argument_exception",
                                            "reason": reason})
    return parse_retriever(item["retriever"]), float(weight)


def _check(kind: str, spec: dict[str, Any], allowed: set[str]) -> None:
    for key in spec:
        if key not in allowed:
            raise ParsingError(f"[{kind}] unknown field [{key}]",
                               error_type="x_content_parse_exception")
