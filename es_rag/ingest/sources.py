"""Named sources in the chunk index: the folder each source was ingested from, so that two live
folders never claim one source, and documents indexed before sources existed."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

from elasticsearch import Elasticsearch

from es_rag.ingest.discover import DiscoveryError, SourceFile, legacy_document_id
from es_rag.ingest.report import IngestReport

_LOOKUP_BATCH = 1000
_NO_SOURCE = {"exists": {"field": "source_name"}}


def check_source_roots(client: Elasticsearch, index: str, roots: Mapping[str, Path]) -> None:
    """Refuse a folder whose source name already belongs to another folder still on this host.

    Each source's chunks record the folder they came from. The same name from another machine,
    or from a folder that moved (its old place is gone), is the same source and keeps its ids;
    a second folder that exists next to the first is not, since it would replace its documents
    and its `--prune` would delete theirs. Raises `DiscoveryError` naming both folders.
    """
    if not roots:
        return
    response = client.search(
        index=index, size=0,
        query={"bool": {"filter": [{"terms": {"source_name": sorted(roots)}},
                                   {"term": {"ordinal": 0}}]}},
        aggs={"sources": {"terms": {"field": "source_name", "size": len(roots)},
                          "aggs": {"roots": {"terms": {"field": "source_root", "size": 20}}}}})
    host = socket.gethostname()
    for bucket in response["aggregations"]["sources"]["buckets"]:
        name = bucket["key"]
        for root in bucket["roots"]["buckets"]:
            where, _, path = str(root["key"]).partition(":")
            other = Path(path)
            if where == host and other != roots[name] and other.is_dir():
                raise DiscoveryError(
                    f"source {name!r} already holds documents ingested from {other}, which is "
                    f"still there; ingesting {roots[name]} as {name!r} would replace them (and "
                    "its --prune would delete the others): give it its own name "
                    "(--source NAME)")


def replace_legacy(client: Elasticsearch, index: str, files: Sequence[SourceFile],
                   report: IngestReport) -> None:
    """Delete the documents indexed before sources existed that these files now hold.

    Such a document has no `source_name` and the id its relative path alone gave it; the files
    of this run (indexed or unchanged) with that path replace it. The old-id documents left
    are counted in `report.legacy_left`, so the person running ingest is told.
    """
    legacy = {"bool": {"must_not": [_NO_SOURCE]}}
    if not client.count(index=index, query=legacy)["count"]:
        return
    ids = sorted({legacy_document_id(f.source) for f in files})
    for first in range(0, len(ids), _LOOKUP_BATCH):
        batch = {"terms": {"doc_id": ids[first:first + _LOOKUP_BATCH]}}
        replaced = client.count(index=index, query={"bool": {
            "filter": [batch, {"term": {"ordinal": 0}}], "must_not": [_NO_SOURCE]}})
        response = client.delete_by_query(
            index=index, conflicts="proceed", refresh=True,
            query={"bool": {"filter": [batch], "must_not": [_NO_SOURCE]}})
        report.legacy_replaced += int(replaced["count"])
        report.chunks_deleted += int(response.get("deleted", 0))
    left = {"bool": {"filter": [{"term": {"ordinal": 0}}], "must_not": [_NO_SOURCE]}}
    report.legacy_left = int(client.count(index=index, query=left)["count"])
