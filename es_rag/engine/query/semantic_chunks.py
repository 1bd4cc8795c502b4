"""`nested` queries on the chunks of a semantic_text field (`<field>.inference.chunks`), the
form queries took before `semantic`, `match`, `knn` and `sparse_vector` accepted the field itself.
Elasticsearch maps the chunks as nested objects whose `embeddings` a `knn` (dense) or a
`sparse_vector` (sparse) inner query scores, in either storage format; here the chunks are read
from the stored inference results, as the field's own queries read them (`chunk_scores`)."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from ..index.mapping.semantic_text import EMBEDDINGS
from ..inference.context import current
from .base import QueryContext, QueryNode, query_shard_error
from .chunk_scores import candidate_keys, dims_of, load, per_chunk
from .knn import KnnQuery
from .semantic import SparseVectorQuery


def chunk_matches(ctx: QueryContext, owner: str, query: QueryNode
                  ) -> dict[int, list[tuple[float, int]]]:
    """Root key → (score, chunk ordinal) of its chunks matching `query`, best first."""
    embeddings = owner + EMBEDDINGS
    limit: int | None = None
    if isinstance(query, KnnQuery) and query.spec.field == embeddings:
        vector: Any = _knn_vector(query)
        spec = query.spec
        limit = spec.k if spec.k_given else spec.num_candidates if spec.nc_given else spec.k
    elif isinstance(query, SparseVectorQuery) and query.field == embeddings:
        vector = _sparse_vector(query)
    else:
        raise BadRequest(f"[nested] queries on the chunks of semantic_text field [{owner}] "
                         f"take a [knn] or [sparse_vector] query on [{embeddings}] in the "
                         f"embedded engine")
    entries = load(ctx, owner, candidate_keys(ctx, owner, []))
    dims = dims_of(entries)
    if isinstance(vector, list) and dims is not None and dims != len(vector):
        raise query_shard_error(f"The query vector has a different number of dimensions "
                                f"[{len(vector)}] than the document vectors [{dims}].",
                                ctx.index_name)
    rows = per_chunk(entries, vector)
    out: dict[int, list[tuple[float, int]]] = {}
    for score, key, ordinal in rows[:limit] if limit else rows:
        out.setdefault(key, []).append((score * query.boost, ordinal))
    return out


def _knn_vector(query: KnnQuery) -> list[float]:
    spec = query.spec
    if spec.filters or spec.similarity is not None:
        raise BadRequest("[knn] on the chunks of a semantic_text field takes no [filter] or "
                         "[similarity] in the embedded engine")
    if spec.vector is None:
        if spec.builder is not None and spec.builder[0] is None:
            raise BadRequest("[model_id] must not be null.")
        raise BadRequest("[query_vector_builder] was not resolved to a query vector")
    return spec.vector


def _sparse_vector(query: SparseVectorQuery) -> dict[str, float]:
    if query.vector is not None:
        return {str(k): float(v) for k, v in query.vector.items()}
    if query.inference_id is None:
        raise BadRequest("inference_id required to perform vector search on query string")
    task, vector = current().embed(str(query.inference_id), str(query.text))
    if task != "sparse_embedding":
        raise BadRequest(f"expected a result of type [sparse_embedding] from inference "
                         f"endpoint [{query.inference_id}], got [{task}]")
    return vector
