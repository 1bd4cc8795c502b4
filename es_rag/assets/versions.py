"""Versioned indices behind an alias: list, next version, roll back, prune."""

from __future__ import annotations

from elasticsearch import Elasticsearch, NotFoundError

from es_rag.assets.loading import VERSION_RE, ApplyError


def index_versions(client: Elasticsearch, alias: str) -> list[tuple[int, str]]:
    """The concrete versions `alias-vN` present on the cluster, oldest first."""
    found = client.options(ignore_status=404).indices.get(
        index=f"{alias}-v*", expand_wildcards="open,closed", allow_no_indices=True
    )
    versions = []
    for name in found.body if found.meta.status == 200 else {}:
        match = VERSION_RE.match(name)
        if match and match["alias"] == alias:
            versions.append((int(match["version"]), name))
    return sorted(versions)


def alias_target(client: Elasticsearch, alias: str) -> str | None:
    """The concrete index the alias points to now (its write index), or None."""
    try:
        found = client.indices.get_alias(name=alias)
    except NotFoundError:
        return None
    names = list(found.body)
    for name, spec in found.body.items():
        if spec.get("aliases", {}).get(alias, {}).get("is_write_index"):
            return name
    return sorted(names)[-1] if names else None


def next_version(client: Elasticsearch, alias: str, first: int) -> str:
    """The index for the next version behind `alias`: one past the newest, else `-v{first}`."""
    versions = index_versions(client, alias)
    return f"{alias}-v{versions[-1][0] + 1 if versions else first}"


def rollback(client: Elasticsearch, alias: str) -> tuple[str, str]:
    """Point `alias` back to the version before the one it serves; returns (from, to)."""
    current = alias_target(client, alias)
    if current is None:
        raise ApplyError(f"alias {alias} does not exist; nothing to roll back")
    older = [
        name
        for version, name in index_versions(client, alias)
        if name != current and version < _version_of(current)
    ]
    if not older:
        raise ApplyError(f"{alias} serves {current}; there is no earlier version to go back to")
    client.indices.update_aliases(
        actions=[
            {"remove": {"index": current, "alias": alias}},
            {"add": {"index": older[-1], "alias": alias, "is_write_index": True}},
        ]
    )
    return current, older[-1]


def _version_of(index: str) -> int:
    match = VERSION_RE.match(index)
    return int(match["version"]) if match else 0


def prune_versions(client: Elasticsearch, alias: str, *, keep: int = 1) -> list[str]:
    """Delete versions of `alias` older than the one it serves, keeping the newest `keep`."""
    current = alias_target(client, alias)
    if current is None:
        raise ApplyError(f"alias {alias} does not exist")
    older = [
        name for version, name in index_versions(client, alias) if version < _version_of(current)
    ]
    doomed = older[:-keep] if keep else older
    for name in doomed:
        client.indices.delete(index=name)
    return doomed
