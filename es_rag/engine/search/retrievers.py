"""Retrievers (`standard`, `knn`, `rrf`, `linear`, `text_similarity_reranker`) parsed into a
small tree the executor walks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import BadRequest, ParsingError, XContentParseError
from ..query import parse_query
from ..query.base import QueryNode
from ..query.explanation import f32
from ..query.knn import KnnSpec
from .collapse import CollapseSpec, parse_collapse
from .linear import parse_linear
from .multi_field import parse_multi_field
from .rerank_retriever import FEATURE, parse_rerank


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
    name: str | None = None  # `_name`, which explanations quote
    rerank: Any = None  # `text_similarity_reranker`: its RerankSpec
    multi_field: Any = None  # `linear`/`rrf` in the multi-field format: its MultiFieldSpec


def parse_retriever(body: Any) -> Retriever:
    """Parse `{"standard"|"knn"|"rrf"|"linear": {...}}`; other retrievers are refused."""
    node = _parse_retriever(body)
    [spec] = body.values()
    name = spec.get("_name")
    node.name = None if name is None else str(name)
    return node


def _parse_retriever(body: Any) -> Retriever:
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
                            "_name", "min_score", "query", "fields"})
        items = spec.get("retrievers")
        if items is not None and not isinstance(items, list):
            raise ParsingError("[rrf] failed to parse field [retrievers]",
                               error_type="x_content_parse_exception")
        multi_field = parse_multi_field("rrf", spec, items)
        children = [_rrf_component(item) for item in items or ()]
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
                                       (flt if isinstance(flt, list) else [flt])],
                              multi_field=multi_field)
        return retriever
    if kind == "linear":
        return Retriever("linear", **parse_linear(spec, parse_retriever))
    if kind == FEATURE:
        return parse_rerank(spec, parse_retriever, Retriever)
    if kind in ("rule", "rescorer", "pinned"):
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


def rrf_share(weight: float, rank: int, rank_constant: int) -> float:
    """One result set's share of a document's RRF score, `weight * 1 / (rank + k)`, in the
    float32 arithmetic of Elasticsearch's RRFRetrieverBuilder (sums are float32 too)."""
    return f32(_share(weight, rank, rank_constant))


def rrf_sum(total: float, weight: float, rank: int, rank_constant: int) -> float:
    """A document's RRF score with one more result set's share added (float32: `total` is a
    float32 value in its shortest form, which names the same float32 exactly)."""
    return f32(np.float32(total) + _share(weight, rank, rank_constant))


def _share(weight: float, rank: int, rank_constant: int) -> np.float32:
    return np.float32(weight) * (np.float32(1.0) / np.float32(rank_constant + rank))


def _check(kind: str, spec: dict[str, Any], allowed: set[str]) -> None:
    for key in spec:
        if key not in allowed:
            raise ParsingError(f"[{kind}] unknown field [{key}]",
                               error_type="x_content_parse_exception")


def check_nested_inner_hits(node: Retriever, nested: bool = False) -> None:
    """Inner hits of a collapse inside a compound retriever are not rendered: refused."""
    if nested and node.collapse is not None and node.collapse.inner_hits:
        raise BadRequest("[inner_hits] of a [collapse] inside a compound retriever are not "
                         "supported by the embedded engine")
    for child, _ in node.children:
        check_nested_inner_hits(child, nested=True)


def one_standard_and_knn(node: Retriever) -> bool:
    """An rrf of one standard retriever and knn retrievers (the usual hybrid search)."""
    kinds = [child.kind for child, _ in node.children]
    return node.kind == "rrf" and not node.filters and kinds.count("standard") == 1 and \
        all(k in ("standard", "knn") for k in kinds)


def rank_rrf(rrf: dict[str, Any], query: QueryNode | None, sub_searches: list[QueryNode],
             knn: list[KnnSpec], size: int) -> Retriever:
    """The rrf retriever a request's legacy `rank.rrf` stands for: its query, sub-searches and
    kNN searches fused."""
    for key in rrf:
        if key not in ("rank_constant", "rank_window_size", "window_size"):
            raise BadRequest(f"[rrf] unknown field [{key}]")
    constant = int(rrf.get("rank_constant", 60))
    if constant < 1:
        raise BadRequest("[rank_constant] must be greater or equal to [1] for [rrf]")
    window = rrf.get("rank_window_size", rrf.get("window_size"))
    children: list[tuple[Retriever, float]] = []
    if query is not None:
        children.append((Retriever("standard", query=query), 1.0))
    children += [(Retriever("standard", query=q), 1.0) for q in sub_searches]
    children += [(Retriever("knn", knn=spec), 1.0) for spec in knn]
    return Retriever("rrf", children=children, rank_constant=constant,
                     rank_window_size=int(window) if window is not None else max(size, 10))


def retriever_queries(node: Retriever) -> list[QueryNode | None]:
    """The queries of a retriever tree's unfiltered standard retrievers."""
    if node.kind == "standard":
        return [node.query] if not node.filters and node.min_score is None else []
    if node.kind in ("rrf", "linear") and not node.filters and node.min_score is None:
        return [q for child, _ in node.children for q in retriever_queries(child)]
    return []


def with_retriever_filters(node: Retriever, filters: list[QueryNode]) -> Retriever:
    if node.kind == "standard":
        return Retriever("standard", query=node.query, filters=[*node.filters, *filters],
                         min_score=node.min_score, sort=node.sort,
                         search_after=node.search_after)
    if node.kind == "knn" and node.knn is not None:
        node.knn.filters = [*node.knn.filters, *filters]
        return node
    return replace(node, filters=[*node.filters, *filters])


def retriever_query(node: Retriever | None) -> QueryNode | None:
    """A query standing for a retriever tree's text clauses (for highlighting)."""
    if node is None:
        return None
    if node.kind == "standard":
        return node.query
    from ..query.compound import BoolQuery

    nodes = [q for q in (retriever_query(c) for c, _ in node.children) if q is not None]
    if not nodes:
        return None
    combined = BoolQuery({})
    combined.clauses["should"] = nodes
    return combined
