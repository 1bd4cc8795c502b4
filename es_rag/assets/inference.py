"""Inference endpoints as assets: `inference/<id>.json` loaded, planned against
`GET _inference/<id>` and applied (create; `_update` where Elasticsearch allows; else recreate).

A file holds the body of `PUT _inference/<task_type>/<id>`:

```json
{"task_type": "text_embedding", "service": "elasticsearch",
 "service_settings": {"model_id": "all-MiniLM-L6-v2", "num_allocations": 1, "num_threads": 1},
 "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}}
```
Only what the file states is compared (the cluster adds dimensions, similarity, ...; it never
returns secrets). Task settings, allocations and secrets change through `_update`; another
service, model or chunking means a new endpoint. An endpoint a `semantic_text` field uses is
not recreated under it: give the changed endpoint a new id and point the mapping to it, and
`apply` migrates the index to a new version (its documents embedded again by the new one).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from es_rag.assets.loading import ApplyError, Asset, AssetError, Change, read_json, unified_diff

FOLDER = "inference"
BODY_KEYS = ("task_type", "service", "service_settings", "task_settings", "chunking_settings")
TASK_TYPES = ("text_embedding", "sparse_embedding", "rerank", "completion", "chat_completion")
SECRETS = ("api_key", "secret_key", "access_key")
UPDATABLE_SERVICE_SETTINGS = ("num_allocations", "adaptive_allocations", *SECRETS)
# Elasticsearch's rule for inference ids (lowercase alphanumerics, '-' and '_')
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def load_inference(root: Path) -> list[Asset]:
    """The endpoints of `root/inference/*.json`, each named by its file; AssetError names a
    file with an invalid id, an unknown key, or no task_type or service."""
    found = []
    for path in sorted((root / FOLDER).glob("*.json")):
        body = read_json(path)
        if not ID_RE.match(path.stem):
            raise AssetError(f"{path}: {path.stem!r} is not a valid inference id (lowercase "
                             "letters, digits, '-' and '_', starting with a letter or digit)")
        unknown = sorted(set(body) - set(BODY_KEYS))
        if unknown:
            raise AssetError(f"{path}: unknown key(s) {', '.join(unknown)} "
                             f"(known: {', '.join(BODY_KEYS)})")
        if body.get("task_type") not in TASK_TYPES:
            raise AssetError(f"{path}: task_type must be one of {', '.join(TASK_TYPES)}")
        if not isinstance(body.get("service"), str):
            raise AssetError(f"{path}: the endpoint needs a 'service'")
        found.append(Asset("inference", path.stem, path, body))
    return found


def _live(client: Elasticsearch, inference_id: str) -> dict[str, Any] | None:
    response = client.options(ignore_status=404).inference.get(inference_id=inference_id)
    if response.meta.status == 404:
        return None
    endpoints = response.body.get("endpoints") or []
    return dict(endpoints[0]) if endpoints else None


def stated_form(live: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The live endpoint as far as the file states it (secrets, never returned, left out)."""
    form: dict[str, Any] = {}
    for key in BODY_KEYS:
        if key not in wanted:
            continue
        value = live.get(key)
        if isinstance(wanted[key], dict) and isinstance(value, dict):
            value = {k: value.get(k) for k in wanted[key] if k not in SECRETS}
        form[key] = value
    return form


def _without_secrets(body: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(body))
    for key in ("service_settings", "task_settings"):
        if isinstance(out.get(key), dict):
            out[key] = {k: v for k, v in out[key].items() if k not in SECRETS}
    return out


def _needs_recreate(live: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """What `_update` cannot change (empty: an update does it)."""
    problems = [f"{key} {live.get(key)!r} -> {wanted[key]!r}"
                for key in ("task_type", "service", "chunking_settings")
                if key in wanted and live.get(key) != wanted[key]]
    settings = live.get("service_settings") or {}
    for key, value in (wanted.get("service_settings") or {}).items():
        if key not in UPDATABLE_SERVICE_SETTINGS and settings.get(key) != value:
            problems.append(f"service_settings.{key} {settings.get(key)!r} -> {value!r}")
    return problems


def plan_inference(client: Elasticsearch, asset: Asset) -> Change | None:
    """The change that makes the cluster's endpoint match its file, or None."""
    wanted = _without_secrets(asset.body)
    live = _live(client, asset.name)
    if live is None:
        return Change("inference", asset.name, "create", "inference endpoint does not exist",
                      unified_diff(asset.name, {}, wanted))
    current = stated_form(live, wanted)
    if current == wanted:
        return None
    diff = unified_diff(asset.name, current, wanted)
    problems = _needs_recreate(current, wanted)
    if problems:
        return Change("inference", asset.name, "recreate",
                      "not updatable in place: " + "; ".join(problems), diff)
    return Change("inference", asset.name, "update", "task settings or allocations differ",
                  diff)


def apply_inference(client: Elasticsearch, change: Change, asset: Asset) -> None:
    """Create, update or recreate one endpoint as `change` says."""
    task_type = asset.body["task_type"]
    if change.action == "update":
        update = {k: v for k, v in asset.body.items() if k in ("task_settings",)}
        settings = {k: v for k, v in (asset.body.get("service_settings") or {}).items()
                    if k in UPDATABLE_SERVICE_SETTINGS}
        if settings:
            update["service_settings"] = settings
        client.inference.update(inference_id=asset.name, task_type=task_type,
                                inference_config=update)
        return
    if change.action == "recreate":
        users = _users(client, asset.name)
        if users:
            raise ApplyError(
                f"{asset.path}: inference endpoint {asset.name} cannot be recreated "
                f"({change.reason}): semantic_text fields of {', '.join(users)} use it. Save "
                "the changed endpoint under a new id (inference/<new-id>.json) and name that id "
                "in the mapping; apply then migrates the index to a new version")
        client.inference.delete(inference_id=asset.name, task_type=task_type)
    body = {k: v for k, v in asset.body.items() if k != "task_type"}
    client.inference.put(inference_id=asset.name, task_type=task_type, inference_config=body)


def _users(client: Elasticsearch, inference_id: str) -> list[str]:
    """The indices whose semantic_text fields name the endpoint (a dry-run delete says)."""
    try:
        found = client.inference.delete(inference_id=inference_id, dry_run=True)
    except ApiError:
        return []
    return sorted(found.body.get("semantic_text_indices") or [])
