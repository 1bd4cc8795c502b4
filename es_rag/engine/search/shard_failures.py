"""Shard failures of a search over several indices, as Elasticsearch reports them: an error
raised while one index's part of the search runs (a query it cannot create, a field of the
wrong type) fails that index's shard only; the search answers with the other indices' hits and
lists the failure in `_shards.failures`, unless `allow_partial_search_results` is false, when
the whole search fails with a `search_phase_execution_exception` ("Partial shards failure")."""

from __future__ import annotations

from typing import Any

from ..errors import EngineError
from .scope import Scope


def failed_scope(err: EngineError, scopes: list[Scope]) -> int | None:
    """The position of the index an error belongs to (None: an error of the whole request)."""
    index = err.extra.get("index")
    if not isinstance(index, str):
        return None
    return next((num for num, scope in enumerate(scopes) if scope.name == index), None)


def shard_failure(err: EngineError, index: str, node_id: str) -> dict[str, Any]:
    """One entry of `_shards.failures` (the engine holds each index in one shard)."""
    return {"shard": 0, "index": index, "node": node_id, "reason": err.cause()}


def shards_section(total: int, failures: list[dict[str, Any]]) -> dict[str, Any]:
    """The `_shards` object of a search response."""
    out: dict[str, Any] = {"total": total, "successful": total - len(failures), "skipped": 0,
                           "failed": len(failures)}
    if failures:
        out["failures"] = failures
    return out


class PartialShardsFailure(EngineError):
    """The error of a search some of whose shards failed when partial results are refused;
    its status is its first shard failure's (a later 5xx one wins), as Elasticsearch's."""

    error_type = "search_phase_execution_exception"

    def __init__(self, failures: list[dict[str, Any]], statuses: list[int]) -> None:
        self.failures = failures
        status = statuses[0]
        for later in statuses[1:]:
            if later >= 500:
                status = later
        super().__init__("Partial shards failure", status=status, phase="query", grouped=True,
                         failed_shards=failures)

    def body(self) -> dict[str, Any]:
        causes = [f["reason"] for f in self.failures]
        return {"error": {"root_cause": causes, **self.cause()}, "status": self.status}



class RetrieversFailure(EngineError):
    """A compound retriever (rrf, linear) some of whose inner retrievers' searches failed:
    Elasticsearch's `status_exception` with each failure attached as suppressed, its status
    the highest of theirs."""

    error_type = "status_exception"

    def __init__(self, kind: str, failed: list[tuple[str, EngineError]], node_id: str) -> None:
        names = ", ".join(name for name, _ in failed)
        super().__init__(f"[{kind}] search failed - retrievers '[{names}]' returned errors. "
                         f"All failures are attached as suppressed exceptions.",
                         status=max(err.status for _, err in failed),
                         suppressed=[_search_failure(err, node_id) for _, err in failed])


def _search_failure(err: EngineError, node_id: str) -> dict[str, Any]:
    """How an inner retriever's failed search shows: an error of an index's shard is the
    search's `all shards failed`."""
    index = err.extra.get("index")
    if not isinstance(index, str):
        return err.cause()
    return {"type": "search_phase_execution_exception", "reason": "all shards failed",
            "phase": "query", "grouped": True,
            "failed_shards": [shard_failure(err, index, node_id)]}
