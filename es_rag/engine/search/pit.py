"""Point in time: a pinned snapshot of indices that any number of searches can run against.

`POST <index>/_pit?keep_alive=1m` pins the indices the user may read; a search naming the `pit`
(no index in its path) runs over that snapshot, sorted with the implicit `_shard_doc` tiebreaker
so `search_after` pages through it. The PIT pins the indices the opener's `ReadScope` may read;
each PIT search is authorized and narrowed by the `ReadScope` of its own request at search time
(`PointsInTime.targets`, the one place DLS applies to a point in time), and only the user who
opened the PIT may use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ActionRequestValidation, ParsingError
from .reader_context import ReaderContext, ReaderContexts
from .request import SearchRequest, SortKey

if TYPE_CHECKING:
    from ..node import Target
    from ..security.read_scope import ReadScope
    from .scope import ReadTargets

_PIT_KEYS = ("id", "keep_alive")
# URL parameters a PIT search may not carry (the PIT fixes its indices and their options)
_INDEX_OPTIONS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards",
                  "ignore_throttled")


def validate_pit_search(index: str | None, pit: Any, params: dict[str, str]) -> dict[str, Any]:
    """`SearchRequest.validate`'s checks of a search with a point in time; the `pit` object."""
    if not isinstance(pit, dict) or not isinstance(pit.get("id"), str):
        raise ParsingError("[search] failed to parse field [pit]" if not isinstance(pit, dict)
                           else "Required [id]")
    for key in pit:
        if key not in _PIT_KEYS:
            raise ParsingError(f"[pit] unknown field [{key}]")
    errors = []
    if "scroll" in params:
        errors.append("using [point in time] is not allowed in a scroll context")
    if index is not None:
        errors.append("[indices] cannot be used with point in time. Do not specify any index "
                      "with point in time.")
    if any(name in params for name in _INDEX_OPTIONS):
        errors.append("[indicesOptions] cannot be used with point in time")
    if "routing" in params:
        errors.append("[routing] cannot be used with point in time")
    if "preference" in params:
        errors.append("[preference] cannot be used with point in time")
    if errors:
        raise ActionRequestValidation("Validation Failed: " + "".join(
            f"{n}: {e};" for n, e in enumerate(errors, start=1)))
    return pit


def add_tiebreaker(req: SearchRequest) -> None:
    """The implicit `_shard_doc` tiebreaker of a PIT search (after `_score` when unsorted),
    unless `search_after` gives a value per sort of the request only (no tiebreaker value)."""
    sort = req.sort or [SortKey("_score", "desc")]
    if any(key.field == "_shard_doc" for key in sort) or (
            req.search_after is not None and len(req.search_after) <= len(sort)):
        return
    req.sort = [*sort, SortKey("_shard_doc", "asc")]


class PointsInTime:
    """Opens and closes points in time and resolves the snapshot a PIT search runs over."""

    def __init__(self, service: ReadTargets, contexts: ReaderContexts) -> None:
        self.service = service
        self.contexts = contexts

    def open(self, index: str, params: dict[str, str], *, read_scope: ReadScope
             ) -> dict[str, Any]:
        """`POST <index>/_pit`: the id of a new point in time over the readable indices."""
        if "keep_alive" not in params:
            raise ActionRequestValidation("Validation Failed: 1: [keep_alive] is not specified;")
        keep_alive = self.contexts.keep_alive("keep_alive", params["keep_alive"])
        targets = self.service.targets(index, params, read_scope)
        context = self.contexts.open("pit", targets, keep_alive)
        shards = len(targets)
        return {"id": context.id, "_shards": {"total": shards, "successful": shards,
                                              "skipped": 0, "failed": 0}}

    def close(self, body: dict[str, Any] | None) -> dict[str, Any]:
        """`DELETE _pit`: free the point in time of `id`."""
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise ActionRequestValidation("Validation Failed: 1: [id] is required;")
        freed = self.contexts.free([body["id"]], "pit")
        return {"succeeded": True, "num_freed": freed}

    def targets(self, pit: dict[str, Any], *, read_scope: ReadScope
                ) -> tuple[ReaderContext, list[Target]]:
        """The PIT's context (owned by the current user, keep-alive renewed) and its indices as
        `read_scope` (the searching request's) may read them now, with their DLS filters."""
        keep_alive = self.contexts.keep_alive("keep_alive", str(pit["keep_alive"])) \
            if "keep_alive" in pit else None
        context = self.contexts.get(pit["id"], "pit", keep_alive)
        names = ",".join(t.index.name for t in context.targets)
        return context, self.service.targets(names or "-*", {"allow_no_indices": "true"},
                                             read_scope)
