"""`_update_by_query`: re-index every matching document in place, batch by batch.

Each match is written back as an index request guarded by the `_seq_no` the search saw, so a
document changed since is a version conflict (the run aborts after that batch, 409, unless
`conflicts=proceed`); `pipeline` (or the index's default pipeline) transforms the documents.
Scripts are refused: painless is not available. Under document-level security the request is
refused as `_update` is (`refuse_under_dls`: the request's `ReadScope` carries a DLS query for a
target); the search part reads the targets of that scope and each write is authorized as a bulk
item.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..documents import Documents
from ..errors import ActionRequestValidation, BadRequest, ParsingError, SecurityError
from ..index.fulltext import KEY
from ..query import parse_query
from ..security.actions import DLS_UPDATE_REFUSED
from ..write_request import WriteRequest, WriteResult
from .request import url_query
from .scope import ReadTargets, make_scopes, with_filters

if TYPE_CHECKING:
    from ..node import Target
    from ..security.read_scope import ReadScope

_BODY_KEYS = ("query", "max_docs", "conflicts", "slice", "script")


def _query(body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    if body.get("query") is not None:
        return body["query"]
    if "q" in params:
        return url_query(params)
    return {"match_all": {}}


def _max_docs(body: dict[str, Any], params: dict[str, str]) -> int | None:
    value = body.get("max_docs", params.get("max_docs"))
    if value is None:
        return None
    if not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise ParsingError(f"[max_docs] failed to parse field, got [{value}]")
    if int(value) < 0:
        raise ActionRequestValidation(
            f"Validation Failed: 1: maxDocs should be greater than 0 if the request is limited "
            f"to some number of documents or -1 if it isn't but it was [{value}];")
    return int(value)


def refuse_under_dls(read_scope: ReadScope, targets: list[Target]) -> None:
    """Refuse the request when the user's document- or field-level security applies to a
    target (it would write back documents as the user sees them)."""
    if any(read_scope.restricted(target.index.name) for target in targets):
        raise SecurityError(DLS_UPDATE_REFUSED, status=400)


def update_by_query(service: ReadTargets, index: str, body: dict[str, Any] | None,
                    params: dict[str, str], *, read_scope: ReadScope
                    ) -> tuple[dict[str, Any], int]:
    """The `_update_by_query` response body and status."""
    started = time.perf_counter()
    body = body or {}
    for key in body:
        if key not in _BODY_KEYS:
            raise ParsingError(f"[update_by_query] unknown field [{key}]")
    if "script" in body:
        raise BadRequest("update_by_query scripts are not supported by the embedded engine "
                         "(painless is not available); transform documents with an ingest "
                         "[pipeline] instead")
    conflicts = str(body.get("conflicts", params.get("conflicts", "abort")))
    if conflicts not in ("abort", "proceed"):
        raise BadRequest(f'conflicts may only be "proceed" or "abort" but was [{conflicts}]')
    max_docs = _max_docs(body, params)
    query = parse_query(_query(body, params))
    batch_size = max(int(params.get("scroll_size", 1000)), 1)
    targets = service.targets(index, params, read_scope)
    refuse_under_dls(read_scope, targets)
    candidates = _matches(targets, query, params.get("pipeline"))
    results, batches = write_in_batches(service.documents, candidates, batch_size, max_docs,
                                        conflicts == "proceed")
    updated = sum(1 for r in results if r.error is None)
    if params.get("refresh") in ("", "true"):
        for target in targets:
            target.index.shard.refresh()
    conflicted = [r for r in results if r.status == 409]
    failed = [r for r in results if r.error is not None and
              (r.status != 409 or conflicts == "abort")]
    response = {
        "took": int((time.perf_counter() - started) * 1000), "timed_out": False,
        "total": len(results), "updated": updated, "deleted": 0, "batches": batches,
        "version_conflicts": len(conflicted), "noops": 0, "retries": {"bulk": 0, "search": 0},
        "throttled_millis": 0, "requests_per_second": -1.0, "throttled_until_millis": 0,
        "failures": [{"index": r.body.get("_index"), "id": r.body.get("_id"),
                      "cause": r.error.cause(), "status": r.status}
                     for r in failed if r.error is not None]}
    return response, max([200, *(f["status"] for f in response["failures"])])


def write_in_batches(documents: Documents, writes: list[WriteRequest], batch_size: int,
                     max_docs: int | None, proceed: bool) -> tuple[list[WriteResult], int]:
    """Write batch by batch as a bulk-by-scroll task does: stop after a batch with a failure
    (unless `proceed`, where conflicts are counted and skipped) or once `max_docs` writes
    succeeded; the results and the number of batches."""
    results: list[WriteResult] = []
    done = batches = 0
    while writes and (max_docs is None or done < max_docs):
        take = batch_size if max_docs is None else min(batch_size, max_docs - done)
        batch, writes = writes[:take], writes[take:]
        batches += 1
        written = documents.write(batch, bulk=True)
        results += written
        done += sum(1 for r in written if r.error is None)
        if any(r.error is not None and (r.status != 409 or not proceed) for r in written):
            break
    return results, batches


def _matches(targets: list[Target], query: Any, pipeline: str | None) -> list[WriteRequest]:
    """An in-place index request per matching document (refreshed state), in index order,
    guarded by the `_seq_no` the search saw."""
    writes: list[WriteRequest] = []
    for scope in make_scopes(targets):
        compiled = with_filters(query.compile(scope.ctx),
                                [scope.alias_filter] if scope.alias_filter is not None else [])
        fulltext = scope.ctx.shard.fulltext
        n = fulltext.count(compiled)
        if not n:
            continue
        addresses = [a for _, a in fulltext.searcher.search(compiled, n, count=False).hits]
        keys = fulltext.searcher.fast_field_values(KEY, addresses)
        docs = scope.ctx.shard.store.by_seq_nos(keys)
        stale = [a for a, k in zip(addresses, keys, strict=True) if k not in docs]
        stale_ids = dict(zip([k for k in keys if k not in docs], fulltext.ids_of(stale),
                             strict=True))
        for key in sorted(keys):
            doc = docs.get(key)
            if doc is None:  # changed since the search's refresh: a version conflict
                writes.append(WriteRequest("index", scope.name, stale_ids[key], source={},
                                           if_seq_no=key, if_primary_term=1))
                continue
            writes.append(WriteRequest("index", scope.name, doc.id, source=doc.source_json(),
                                       raw_source=doc.source, if_seq_no=key, if_primary_term=1,
                                       routing=doc.routing, pipeline=pipeline))
    return writes
