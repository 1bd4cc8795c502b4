"""`plan`: what `apply` would change on a cluster, compared with the asset files."""

from __future__ import annotations

import json
from typing import Any

from elasticsearch import Elasticsearch

from es_rag import stored_form
from es_rag.assets.inference import plan_inference
from es_rag.assets.loading import (
    DYNAMIC_SETTINGS,
    UPDATABLE_FIELD_PARAMS,
    ApplyError,
    Asset,
    Assets,
    Change,
    IndexAsset,
    digest,
    unified_diff,
)
from es_rag.assets.versions import alias_target, next_version
from es_rag.connect import Capabilities


def _flatten_fields(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    flat: dict[str, dict[str, Any]] = {}
    for name, spec in properties.items():
        path = prefix + name
        flat[path] = {k: v for k, v in spec.items() if k != "properties"}
        if "properties" in spec:
            flat.update(_flatten_fields(spec["properties"], path + "."))
    return flat


def _incompatibilities(live: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Why the wanted index body cannot be applied to the live index in place (empty: it can)."""
    problems = []
    live_fields = _flatten_fields(live.get("mappings", {}).get("properties", {}))
    for path, spec in _flatten_fields(wanted.get("mappings", {}).get("properties", {})).items():
        current = live_fields.get(path)
        if current is None:
            continue
        for param in set(spec) | set(current):
            if param in UPDATABLE_FIELD_PARAMS:
                continue
            if spec.get(param) != current.get(param) and not _is_default(param, spec, current):
                problems.append(
                    f"field {path!r}: {param} {current.get(param)!r} -> {spec.get(param)!r}"
                )
    live_index = stored_form.index_settings(live.get("settings", {}))
    for key, value in stored_form.index_settings(wanted.get("settings", {})).items():
        if key not in DYNAMIC_SETTINGS and _comparable(live_index.get(key)) != _comparable(value):
            problems.append(f"setting {key}: {live_index.get(key)!r} -> {value!r}")
    return sorted(problems)


def _is_default(param: str, wanted: dict[str, Any], live: dict[str, Any]) -> bool:
    """Parameters the cluster reports with defaults the file leaves out are not changes, nor is
    `type: object`, which Elasticsearch leaves out of an object field that has properties."""
    if param == "type" and wanted.get("type") == "object" and "type" not in live:
        return True
    return param not in wanted and param in stored_form.FILLED_FIELD_PARAMS


def _comparable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)


def _live_index(client: Elasticsearch, index: str) -> dict[str, Any]:
    body = client.indices.get(index=index).body[index]
    return {"settings": body.get("settings", {}), "mappings": body.get("mappings", {})}


def _plan_index(client: Elasticsearch, asset: IndexAsset) -> Change | None:
    current = alias_target(client, asset.alias)
    if current is None:
        if client.indices.exists(index=asset.alias):
            raise ApplyError(
                f"{asset.alias} is a concrete index, not an alias; es-rag manages "
                f"versions behind an alias (reindex it into {asset.alias}-v1 first)"
            )
        return Change(
            "index",
            asset.alias,
            "create",
            f"alias {asset.alias} does not exist",
            unified_diff(asset.alias, {}, asset.body),
            next_version(client, asset.alias, first=1),
        )
    live = _live_index(client, current)
    live_meta = live["mappings"].get("_meta", {}).get("es_rag", {})
    if live_meta.get("digest") == asset.digest:
        return None
    # compared as far as the file states it: what the cluster fills in is no change
    live_form, wanted_form = stored_form.index_forms(live, asset.body)
    if live_form == wanted_form:
        return None
    problems = _incompatibilities(live, asset.body)
    diff = unified_diff(asset.alias, live_form, wanted_form)
    if problems:
        return Change(
            "index",
            asset.alias,
            "new_version",
            "incompatible: " + "; ".join(problems),
            diff,
            next_version(client, asset.alias, first=2),
        )
    return Change(
        "index", asset.alias, "update", "compatible: new fields or dynamic settings", diff, current
    )


def _plan_named(client: Elasticsearch, asset: Asset, caps: Capabilities) -> Change | None:
    """Compare a pipeline, template or role with the cluster's copy, both in the form the cluster
    stores them (see es_rag.stored_form), so that only a real difference is a change."""
    if asset.kind == "pipeline":
        live = client.options(ignore_status=404).ingest.get_pipeline(id=asset.name)
        current = live.body.get(asset.name) if live.meta.status == 200 else None
        form = stored_form.pipeline_form
        wanted = asset.body
    elif asset.kind in ("template", "retrieval"):
        live = client.options(ignore_status=404).get_script(id=asset.name)
        current = (
            live.body.get("script")
            if live.meta.status == 200 and live.body.get("found", True)
            else None
        )
        form = stored_form.script_form
        wanted = asset.body["script"]
    else:
        if not caps.security_enabled:
            return None
        live = client.options(ignore_status=404).security.get_role(name=asset.name)
        current = live.body.get(asset.name) if live.meta.status == 200 else None
        form = stored_form.role_form
        wanted = asset.body
    if current is None:
        return Change(
            asset.kind,
            asset.name,
            "create",
            f"{asset.kind} does not exist",
            unified_diff(asset.name, {}, wanted),
        )
    if digest(form(current)) == digest(form(wanted)):
        return None
    return Change(
        asset.kind,
        asset.name,
        "update",
        f"{asset.kind} differs from its file",
        unified_diff(asset.name, form(current), form(wanted)),
    )


def plan(client: Elasticsearch, caps: Capabilities, assets: Assets) -> list[Change]:
    """What applying `assets` would change on the cluster; empty when it matches the files."""
    changes: list[Change] = []
    for endpoint in assets.inference:  # first: semantic_text mappings name them
        change = plan_inference(client, endpoint)
        if change:
            changes.append(change)
    for asset in [*assets.pipelines, *assets.templates, *assets.retrieval, *assets.roles]:
        change = _plan_named(client, asset, caps)
        if change:
            changes.append(change)
    for index in assets.indices:
        change = _plan_index(client, index)
        if change:
            changes.append(change)
    return changes
