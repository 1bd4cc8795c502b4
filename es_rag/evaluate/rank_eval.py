"""Evaluate a stored search template on the cluster itself, through Elasticsearch's `_rank_eval`.

Judgments name documents while the index holds chunks, so every chunk of a judged document is
rated with that document's grade. With one chunk per document (short corpora such as SciFact)
the cluster's nDCG@10 then equals the library's on the same ranking.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from es_rag.errors import EsRagError
from es_rag.evaluate.judgments import Qrels
from es_rag.retrieve import QueryEmbedder

TEMPLATE_REF = "es_rag_template"
_TERMS_BATCH = 1000


class RankEvalError(EsRagError, RuntimeError):
    """The cluster refused or failed the `_rank_eval` request; the message says why."""


def chunk_ids_by_doc(client: Elasticsearch, index: str, doc_ids: set[str]) -> dict[str, list[str]]:
    """doc_id → the `_id`s of its chunks in `index`."""
    found: dict[str, list[str]] = {}
    ordered = sorted(doc_ids)
    for start in range(0, len(ordered), _TERMS_BATCH):
        batch = ordered[start:start + _TERMS_BATCH]
        response = client.search(index=index, query={"terms": {"doc_id": batch}},
                                 source=["doc_id"], size=10_000)
        for hit in response["hits"]["hits"]:
            found.setdefault(hit["_source"]["doc_id"], []).append(hit["_id"])
    return found


def rank_eval_body(index: str, template_id: str, queries: Mapping[str, str], qrels: Qrels,
                   chunks: Mapping[str, list[str]], params: Mapping[str, Any],
                   embedder: QueryEmbedder | None = None, k: int = 10) -> dict[str, Any]:
    """The `_rank_eval` request: one templated request per query, dcg normalised at `k`."""
    requests = []
    for qid, text in queries.items():
        request_params = {"filters": [], **params, "query": text}
        if embedder is not None:
            request_params.setdefault("query_vector", embedder.embed_query(text))
        ratings = [{"_index": index, "_id": chunk, "rating": grade}
                   for doc, grade in qrels.get(qid, {}).items() for chunk in chunks.get(doc, [])]
        requests.append({"id": qid, "template_id": TEMPLATE_REF, "params": request_params,
                         "ratings": ratings})
    return {"templates": [{"id": TEMPLATE_REF, "template": {"id": template_id}}],
            "requests": requests, "metric": {"dcg": {"normalize": True, "k": k}}}


def rank_eval_ndcg(client: Elasticsearch, index: str, template_id: str,
                   queries: Mapping[str, str], qrels: Qrels, params: Mapping[str, Any],
                   embedder: QueryEmbedder | None = None) -> float:
    """nDCG@10 of the stored template `template_id` over `queries`, computed by `_rank_eval`.

    `params` are the template's parameters besides `query` (and `query_vector`, filled in from
    `embedder` when given). Raises RankEvalError when the cluster refuses the request or any
    query fails.
    """
    judged = {doc for qid in queries for doc in qrels.get(qid, {})}
    body = rank_eval_body(index, template_id, queries, qrels,
                          chunk_ids_by_doc(client, index, judged), params, embedder)
    try:
        response = client.rank_eval(index=index, body=body)
    except ApiError as exc:
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        reason = (f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict)
                  else str(exc.message))
        raise RankEvalError(f"_rank_eval on {index!r} failed ({exc.meta.status}): "
                            f"{reason}") from None
    failures = response.get("failures") or {}
    if failures:
        qid, failure = next(iter(failures.items()))
        raise RankEvalError(f"_rank_eval: {len(failures)} queries failed "
                            f"(query {qid}: {failure})")
    return float(response["metric_score"])
