"""Typed search hits and results: what every retrieval stage takes in and hands on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Hit:
    """One retrieved chunk with the fields citations need and, when known, how it was ranked.

    `score` is the score of the final ordering (BM25, kNN, fused RRF or rerank score).
    The explain fields are None when the stage did not run or the chunk was not in that leg.
    """

    chunk_id: str
    doc_id: str | None
    score: float
    source: str | None = None
    source_name: str | None = None
    title: str | None = None
    text: str = ""
    headings: list[str] = field(default_factory=list)
    page: int | None = None
    offsets: dict[str, int] | None = None
    acl: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    content_hash: str | None = None
    highlight: dict[str, list[str]] = field(default_factory=dict)
    bm25_rank: int | None = None
    bm25_score: float | None = None
    knn_rank: int | None = None
    knn_score: float | None = None
    fused_score: float | None = None
    rerank_score: float | None = None

    @classmethod
    def from_es(cls, raw: dict[str, Any]) -> Hit:
        """Build a hit from one entry of an Elasticsearch `hits.hits` array."""
        src = raw.get("_source") or {}
        headings = src.get("headings") or []
        acl = src.get("acl") or []
        return cls(
            chunk_id=str(src.get("chunk_id") or raw["_id"]),
            doc_id=src.get("doc_id"),
            score=float(raw.get("_score") or 0.0),
            source=src.get("source"),
            source_name=src.get("source_name"),
            title=src.get("title"),
            text=src.get("text") or "",
            headings=[headings] if isinstance(headings, str) else list(headings),
            page=src.get("page"),
            offsets=src.get("offsets"),
            acl=[acl] if isinstance(acl, str) else list(acl),
            metadata=dict(src.get("metadata") or {}),
            content_hash=src.get("content_hash"),
            highlight=dict(raw.get("highlight") or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


@dataclass
class SearchResult:
    """The hits of one search, the path that produced them and how long it took.

    `path_used` is `bm25`, `knn`, `retriever`, `rank_rrf`, `client_rrf` or `template`;
    `explain` holds the request details (mode, fallback reason, timings, leg sizes).
    """

    hits: list[Hit]
    path_used: str
    took_ms: float
    explain: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {"hits": [h.as_dict() for h in self.hits], "path_used": self.path_used,
                "took_ms": self.took_ms, "explain": self.explain}

    def explain_rows(self) -> list[dict[str, Any]]:
        """One row per hit with its ranks and scores per stage: the `--explain` table."""
        return [{"rank": rank, "chunk_id": h.chunk_id, "bm25_rank": h.bm25_rank,
                 "bm25_score": h.bm25_score, "knn_rank": h.knn_rank, "knn_score": h.knn_score,
                 "fused_score": h.fused_score, "rerank_score": h.rerank_score, "score": h.score}
                for rank, h in enumerate(self.hits, start=1)]
