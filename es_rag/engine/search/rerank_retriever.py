"""The `text_similarity_reranker` retriever: the top `rank_window_size` hits of its child
retriever rescored by a `rerank` inference endpoint on one field's text, as Elasticsearch's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tantivy

from ..errors import BadRequest, EngineError, ParsingError, XContentParseError
from ..index.mapping.semantic_text import joined_text
from ..inference.context import current
from ..query import parse_query

if TYPE_CHECKING:
    from ..query.base import QueryContext

FEATURE = "text_similarity_reranker"
DEFAULT_INFERENCE_ID = ".rerank-v1-elasticsearch"
_DEFAULT_WINDOW = 10
_FIELDS = {"retriever", "field", "inference_id", "inference_text", "rank_window_size",
           "min_score", "filter", "_name", "allow_rerank_failures", "chunk_rescorer"}

Hit = tuple[float, int, int]


@dataclass
class RerankSpec:
    """What the reranker adds to its retriever node."""

    field: str
    inference_id: str
    inference_text: str
    allow_failures: bool = False


def parse_rerank(spec: dict[str, Any], parse_child: Callable[[Any], Any], node_type: Any
                 ) -> Any:
    """The `Retriever` node of a `text_similarity_reranker` body (its child parsed by
    `parse_child`, the node built by `node_type`)."""
    for key in spec:
        if key not in _FIELDS:
            raise ParsingError(f"[{FEATURE}] unknown field [{key}]",
                               error_type="x_content_parse_exception")
    if spec.get("chunk_rescorer") is not None:
        raise BadRequest(f"[{FEATURE}] [chunk_rescorer] is not supported by the embedded engine")
    missing = [k for k in ("retriever", "inference_text", "field") if spec.get(k) is None]
    if missing:
        raise XContentParseError(f"[{FEATURE}] failed to parse: Required "
                                 f"[{', '.join(missing)}]")
    for key in ("field", "inference_text", "inference_id"):
        if key in spec and not isinstance(spec[key], str):
            raise XContentParseError(f"[{FEATURE}] failed to parse field [{key}]")
    window = spec.get("rank_window_size", _DEFAULT_WINDOW)
    if isinstance(window, bool) or not isinstance(window, int):
        raise XContentParseError(f"[{FEATURE}] failed to parse field [rank_window_size]")
    min_score = spec.get("min_score")
    if min_score is not None and (isinstance(min_score, bool) or
                                  not isinstance(min_score, int | float)):
        raise XContentParseError(f"[{FEATURE}] failed to parse field [min_score]")
    flt = spec.get("filter", [])
    node = node_type(FEATURE, children=[(parse_child(spec["retriever"]), 1.0)],
                     filters=[parse_query(f) for f in (flt if isinstance(flt, list) else [flt])],
                     rank_window_size=window,
                     min_score=float(min_score) if min_score is not None else None)
    node.rerank = RerankSpec(spec["field"], spec.get("inference_id", DEFAULT_INFERENCE_ID),
                             spec["inference_text"], spec.get("allow_rerank_failures") is True)
    return node


def rerank(contexts: list[QueryContext], node: Any, ranked: list[Hit]) -> list[Hit]:
    """The child's hits rescored by the endpoint, best first, above `min_score`
    (`contexts`: the query context of each index searched, by scope number)."""
    spec: RerankSpec = node.rerank
    inference = current()
    try:
        inference.service.endpoint(spec.inference_id)
        if not ranked:
            return []
        sources: dict[tuple[int, int], dict[str, Any]] = {}
        for num in {n for _, n, _ in ranked}:
            store = contexts[num].shard.store
            docs = store.by_seq_nos([k for _, n, k in ranked if n == num])
            sources.update({(num, key): contexts[num].source_of(doc)
                            for key, doc in docs.items()})
        texts = [joined_text(sources.get((n, k), {}), spec.field) or "" for _, n, k in ranked]
        scores = inference.rerank(spec.inference_id, spec.inference_text, texts)
    except EngineError:
        if spec.allow_failures:
            return ranked
        raise
    if len(scores) != len(ranked):
        raise EngineError(f"Reranker input document count and returned score count mismatch: "
                          f"[{len(ranked)}] vs [{len(scores)}]", status=500,
                          error_type="illegal_state_exception")
    by_index = dict(scores)
    out = [(float(by_index[i]), n, k) for i, (_, n, k) in enumerate(ranked)]
    if node.min_score is not None:
        out = [hit for hit in out if hit[0] >= node.min_score]
    order = {(n, k): i for i, (_, n, k) in enumerate(ranked)}
    out.sort(key=lambda hit: (-hit[0], order[(hit[1], hit[2])]))
    return out


def retrieve(node: Any, window: int, run: Callable[[Any, int], Any],
             contexts: list[QueryContext], with_filters: Callable[[Any, list[Any]], Any]
             ) -> tuple[list[Hit], list[tantivy.Query]]:
    """Run the child retriever (`run`, the reranker's filters passed down by `with_filters`)
    over `rank_window_size` hits, then rerank them."""
    child = node.children[0][0]
    size = node.rank_window_size or window
    hits, queries = run(with_filters(child, node.filters) if node.filters else child, size)
    return rerank(contexts, node, hits[:size]), queries
