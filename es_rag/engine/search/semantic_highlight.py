"""The semantic highlighter: for a semantic_text field, the chunks of a hit that best match the
query's semantic clause on that field, best first, as Elasticsearch 8.18+ returns them."""

from __future__ import annotations

from typing import Any

from ..index.mapping import FieldSpec
from ..index.mapping.semantic_text import chunk_texts, field_inference, search_inference_id
from ..inference.context import current
from ..query.base import QueryNode
from ..query.chunk_scores import chunk_scores
from ..query.full_text import MatchQuery
from ..query.knn import KnnQuery
from ..query.semantic import SemanticQuery, SparseVectorQuery


def query_embedding(node: QueryNode | None, path: str, spec: FieldSpec) -> Any:
    """The embedding the first semantic clause on `path` searches with (None if none)."""
    if node is None:
        return None
    if isinstance(node, SemanticQuery) and node.field == path:
        return current().embed(search_inference_id(spec.params), node.text)[1]
    if isinstance(node, MatchQuery) and node.path == path:
        return current().embed(search_inference_id(spec.params), str(node.spec["query"]))[1]
    if isinstance(node, SparseVectorQuery) and node.field == path:
        if node.vector:
            return {str(k): float(v) for k, v in node.vector.items()}
        return current().embed(node.inference_id or search_inference_id(spec.params),
                               str(node.text))[1]
    if isinstance(node, KnnQuery) and node.spec.field == path:
        if node.spec.vector is not None:
            return node.spec.vector
        if node.spec.builder is not None:
            model_id, text = node.spec.builder
            return current().embed(model_id or search_inference_id(spec.params), text)[1]
    for child in node.children():
        found = query_embedding(child, path, spec)
        if found is not None:
            return found
    return None


def semantic_fragments(node: QueryNode | None, spec: FieldSpec, source: dict[str, Any],
                       opts: dict[str, Any]) -> list[str]:
    """The best-matching chunk texts of one hit (`number_of_fragments` of them, 5 by
    default; `order: score` is the only order chunks have)."""
    embedding = query_embedding(node, spec.path, spec)
    found = chunk_texts(source, spec.path)
    if embedding is None or not found:
        return []
    similarity = str(((field_inference(source, spec.path) or {}).get("model_settings") or {})
                     .get("similarity", "cosine")).lower()
    scores = chunk_scores([chunk.get("embeddings") for _, chunk in found], similarity,
                          embedding)
    ranked = sorted(range(len(found)), key=lambda i: (-scores[i], i))
    number = int(opts.get("number_of_fragments", 5))
    return [found[i][0] for i in (ranked if number == 0 else ranked[:number])]
