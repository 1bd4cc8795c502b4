"""es-rag never writes to an index it did not create: `apply` and `ingest` refuse such targets.

An index is es-rag's when its mapping carries `_meta.es_rag` (what `apply` writes); a defined
source (`sources/*.json`) is never a write target, whoever created it. `plan` lists the sources
as read only. Roles are es-rag's own assets: a source's templated reader role is applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from es_rag.connect import error_reason
from es_rag.sources.definition import SourceError, load_sources


class ForeignIndexError(SourceError):
    """A write would touch an index es-rag did not create."""


def read_only_lines(assets: Path) -> list[str]:
    """One line per defined source, for `plan`: what it is and that es-rag leaves it alone."""
    return [f"source {name} -> {d.index}: read only (es-rag did not create it; apply and "
            "ingest never write to it)" for name, d in sorted(load_sources(assets).items())]


def refuse_sources(assets: Path, targets: Iterable[str], action: str) -> None:
    """ForeignIndexError when a target is the index or alias of a defined source."""
    by_index = {d.index: name for name, d in load_sources(assets).items()}
    for target in targets:
        if target in by_index:
            raise ForeignIndexError(
                f"refusing to {action} {target!r}: it is source {by_index[target]!r} "
                f"(sources/{by_index[target]}.json), an index es-rag did not create and never "
                "writes to")


def refuse_foreign(client: Elasticsearch, assets: Path, index: str, action: str) -> None:
    """ForeignIndexError when `index` is a source, or exists without es-rag's `_meta`."""
    refuse_sources(assets, [index], action)
    try:
        found = client.indices.get_mapping(index=index).body
    except NotFoundError:
        return
    except ApiError as exc:
        if exc.meta.status in (401, 403):
            return  # the cluster authorizes the write itself
        raise ForeignIndexError(f"cannot check who created {index!r} ({exc.meta.status}): "
                                f"{error_reason(exc)}") from None
    foreign = sorted(name for name, body in found.items()
                     if not ((body.get("mappings") or {}).get("_meta") or {}).get("es_rag"))
    if foreign:
        raise ForeignIndexError(
            f"refusing to {action} {index!r}: {', '.join(foreign)} was not created by es-rag "
            "(its mapping has no _meta.es_rag). Define it as a source to search it "
            f"(`es-rag inspect {index} --write`); es-rag never writes to it")
