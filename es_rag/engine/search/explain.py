"""Per-hit `_explanation` of a search (`explain: true`), in Elasticsearch's shape: the query's
Lucene explanation, kNN matches as `within top k documents`, hybrid searches as `sum of:`, and
RRF as `rrf score: [...] computed for initial ranks [...]` over its retrievers' explanations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tantivy

from ..index.fulltext import KEY
from ..query.base import QueryContext, QueryNode
from ..query.explanation import Explanation, expl, java_float, sum_of, within_top_k
from . import linear
from .retrievers import Retriever, rrf_share

if TYPE_CHECKING:
    from .context import SearchContext


def address_of(ctx: QueryContext, key: int) -> Any | None:
    """The tantivy address of a document version in the current searcher."""
    hits = ctx.shard.fulltext.searcher.search(
        tantivy.Query.term_query(ctx.schema, KEY, key), 1, count=False).hits
    return hits[0][1] if hits else None


def query_explanation(ctx: QueryContext, query: QueryNode | None, address: Any
                      ) -> Explanation | None:
    """A query's explanation of one document (`*:*` when there is no query)."""
    if query is None:
        return expl(1.0, "*:*")
    return query.explain(ctx, address)


def no_match_text(ctx: QueryContext, query: QueryNode, address: Any) -> str:
    """Lucene's description of a document a query does not match."""
    if query.name in ("bool", "match", "multi_match", "dis_max", "query_string"):
        return "no matching clause"
    if query.name == "term":
        return "no matching term"
    return f"{query.describe(ctx)} doesn't match id {address.doc}"


def hit_explanation(context: SearchContext, num: int, key: int, score: float | None
                    ) -> Explanation:
    """The `_explanation` of one hit; its value is the hit's score."""
    req = context.req
    ctx = context.scopes[num].ctx
    address = address_of(ctx, key)
    if req.retriever is not None or req.rrf is not None:
        node = context.top_retriever
        assert node is not None
        out = _retriever_explanation(context, node, num, key, address)
        if node.rerank is not None:  # reranked docs are served by a rank-docs query
            out = expl(out["value"], "sum of:", [out, expl(
                0.0, "match on required clause, product of:",
                [expl(0.0, "# clause"), expl(1.0, "*:*")])])
    else:
        parts = []
        if req.query is not None or not req.knn:
            own = query_explanation(ctx, req.query, address) if address is not None else None
            if own is not None:
                parts.append(own)
        parts += _knn_parts(context, req.knn, num, key)
        out = sum_of(parts) if parts else expl(0.0, "no matching clause")
    if score is not None:
        out = {**out, "value": score}
    return out


def _knn_parts(context: SearchContext, specs: list[Any], num: int, key: int
               ) -> list[Explanation]:
    parts = []
    for spec in specs:
        for score, n, k in context.knn_hits(spec):
            if (n, k) == (num, key):
                parts.append(within_top_k(score))
    return parts


def _retriever_explanation(context: SearchContext, node: Retriever, num: int, key: int,
                           address: Any) -> Explanation:
    ranked = context.retrieved.get(id(node), [])
    score = next((s for s, n, k in ranked if (n, k) == (num, key)), 0.0)
    if node.kind == "knn":
        # the retriever's top k, and the exact similarity of the document's vector (the
        # text of Elasticsearch's exact kNN query explanation)
        similarity = java_float(score / node.knn.boost if node.knn.boost else score)
        return {**within_top_k(score), "details": [
            expl(score, f"found vector with calculated similarity: {similarity}")]}
    if node.kind == "standard":
        ctx = context.scopes[num].ctx
        own = query_explanation(ctx, node.query, address) if address is not None else None
        return {**(own or expl(score, "sum of:")), "value": score}
    if node.rerank is not None:
        spec = node.rerank
        return expl(score, f"text_similarity_reranker match using inference endpoint: "
                           f"[{spec.inference_id}] on document field: [{spec.field}] matching "
                           f"on source query", [_retriever_explanation(
                               context, node.children[0][0], num, key, address)])
    if node.kind == "linear":
        lists = context.retrieved_lists.get(id(node)) or [[] for _ in node.children]
        normalized = linear.normalized_scores(node, lists, num, key)
        return expl(score, linear.explain_text(node, score, normalized),
                    [_retriever_explanation(context, child, num, key, address)
                     for child, _ in node.children])
    ranks: list[int] = []
    details = []
    for i, (child, weight) in enumerate(node.children):
        child_ranked = context.retrieved.get(id(child), [])
        rank = next((r for r, (_, n, k) in enumerate(child_ranked, start=1)
                     if (n, k) == (num, key)), 0)
        ranks.append(rank)
        where = f"at index [{i}]" + (f" [{child.name}]" if child.name else "")
        if not rank:
            details.append(expl(0.0, f"rrf score: [0], result not found in query {where}"))
            continue
        share = rrf_share(weight, rank, node.rank_constant)
        formula = f"1 / ({rank} + {node.rank_constant})"
        if weight != 1.0:
            formula = f"{java_float(weight)} * {formula}"
        details.append(expl(rank, f"rrf score: [{java_float(share)}], for rank [{rank}] in query "
                                  f"{where} computed as [{formula}], for matching query "
                                  f"with score", [_retriever_explanation(context, child, num,
                                                                         key, address)]))
    return expl(score, f"rrf score: [{java_float(score)}] computed for initial ranks {ranks} with "
                       f"rankConstant: [{node.rank_constant}] as sum of [1 / (rank + "
                       f"rankConstant)] for each query", details)
