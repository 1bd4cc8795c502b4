"""Retrieval: BM25, kNN and hybrid (RRF) search over the chunk index, filters, rerank, templates.

>>> from es_rag.retrieve import SearchParams, search
>>> result = search(client, caps, "es-rag-chunks", "what is RRF?",
...                 SearchParams.from_cli(mode="hybrid", explain=True), embedder)  # doctest: +SKIP
>>> params = read_stored(client).search_params(rank_constant=20)  # doctest: +SKIP
>>> search(client, caps, "chunks", "what is RRF?", params, embedder)  # doctest: +SKIP
"""

from es_rag.embedding.protocols import ClusterQueryEmbedder, DocumentEmbedder, QueryEmbedder
from es_rag.retrieve.defaults import RetrievalDefaults, RetrievalFileError, read_stored
from es_rag.retrieve.filters import (
    Eq,
    Exists,
    Filter,
    FilterError,
    In,
    Not,
    Prefix,
    Range,
    parse_filter,
    parse_filters,
)
from es_rag.retrieve.fusion import rrf_fuse
from es_rag.retrieve.hits import Hit, SearchResult
from es_rag.retrieve.params import Mode, RerankSettings, SearchParams
from es_rag.retrieve.queries import template_params
from es_rag.retrieve.rerank import (
    CrossEncoderReranker,
    EmbeddingReranker,
    Reranker,
    build_reranker,
)
from es_rag.retrieve.search import SearchError, search, search_template

__all__ = [
    "ClusterQueryEmbedder", "CrossEncoderReranker", "DocumentEmbedder", "EmbeddingReranker",
    "Eq", "Exists", "Filter",
    "FilterError", "Hit", "In", "Mode", "Not", "Prefix", "QueryEmbedder", "Range", "Reranker",
    "RerankSettings", "RetrievalDefaults", "RetrievalFileError", "SearchError", "SearchParams",
    "SearchResult", "build_reranker", "parse_filter", "parse_filters", "read_stored", "rrf_fuse",
    "search", "search_template", "template_params",
]
