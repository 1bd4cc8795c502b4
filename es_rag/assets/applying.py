"""`apply`: create, update or re-version what `plan` found (a migration per index)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from es_rag import stored_form
from es_rag.assets.inference import apply_inference
from es_rag.assets.loading import DYNAMIC_SETTINGS, ApplyError, Asset, Assets, Change, IndexAsset
from es_rag.assets.planning import plan
from es_rag.assets.versions import alias_target
from es_rag.connect import Capabilities, error_reason


def index_body(asset: IndexAsset) -> dict[str, Any]:
    body = json.loads(json.dumps(asset.body))
    mappings = body.setdefault("mappings", {})
    meta = mappings.setdefault("_meta", {}).setdefault("es_rag", {})
    meta.update({"asset": asset.alias, "digest": asset.digest})
    return body


def _check_template(client: Elasticsearch, asset: Asset) -> None:
    source = asset.body["script"]["source"]
    try:
        rendered = client.render_search_template(source=source, params=asset.example_params)
    except ApiError as exc:
        raise ApplyError(
            f"{asset.path}: the template does not render with "
            f"{asset.path.with_suffix('.params.json').name}: {exc.message}"
        ) from None
    output = rendered.body.get("template_output")
    if not isinstance(output, dict) or not ({"query", "knn", "retriever"} & set(output)):
        raise ApplyError(f"{asset.path}: the rendered template has no query, knn or retriever")


def apply(
    client: Elasticsearch,
    caps: Capabilities,
    assets: Assets,
    progress: Callable[[str], None] = lambda _msg: None,
) -> list[Change]:
    """Apply every change `plan` finds, in dependency order; returns what was applied.

    Inference endpoints, pipelines and templates go first (indices name their semantic_text
    endpoint and default pipeline). A failure raises
    ApplyError; the alias still points to the version that served before.
    """
    for template in assets.templates:
        _check_template(client, template)
    changes = plan(client, caps, assets)
    by_name = {(a.kind, a.name): a
               for a in [*assets.pipelines, *assets.templates, *assets.retrieval, *assets.roles]}
    indices = {a.alias: a for a in assets.indices}
    endpoints = {a.name: a for a in assets.inference}
    for change in changes:
        progress(f"{change.action} {change.kind} {change.name}")
        try:
            if change.kind == "inference":
                apply_inference(client, change, endpoints[change.name])
            elif change.kind == "pipeline":
                client.ingest.put_pipeline(id=change.name, **by_name["pipeline", change.name].body)
            elif change.kind in ("template", "retrieval"):
                client.put_script(
                    id=change.name, script=by_name[change.kind, change.name].body["script"]
                )
            elif change.kind == "role":
                client.security.put_role(name=change.name, **by_name["role", change.name].body)
            elif change.action == "update":
                _update_index(client, indices[change.name], change.target)
            else:
                _create_version(client, indices[change.name], change.target, progress)
        except ApiError as exc:
            hint = ""
            if change.kind == "inference" and exc.meta.status == 403 and \
                    "license" in error_reason(exc):
                hint = (f" (the cluster's {caps.license_type} license lacks inference "
                        "endpoints: semantic_text embedding and the cluster's reranker need an "
                        'enterprise or trial license; with embedding = "local" es-rag embeds '
                        "and reranks itself)")
            raise ApplyError(
                f"applying {change.kind} {change.name} failed: "
                f"{exc.meta.status} {error_reason(exc)}{hint}"
            ) from None
    return changes


def _update_index(client: Elasticsearch, asset: IndexAsset, index: str) -> None:
    body = index_body(asset)
    mappings = body["mappings"]
    client.indices.put_mapping(index=index, **mappings)
    settings = {k: v for k, v in stored_form.index_settings(body.get("settings", {})).items()
                if k in DYNAMIC_SETTINGS}
    if settings:
        client.indices.put_settings(index=index, settings={"index": settings})


def _create_version(
    client: Elasticsearch, asset: IndexAsset, index: str, progress: Callable[[str], None]
) -> None:
    previous = alias_target(client, asset.alias)
    client.indices.create(index=index, **index_body(asset))
    if previous is None:
        client.indices.update_aliases(
            actions=[{"add": {"index": index, "alias": asset.alias, "is_write_index": True}}]
        )
        return
    try:
        progress(f"reindexing {previous} into {index}")
        result = client.reindex(
            source={"index": previous},
            dest={"index": index},
            wait_for_completion=True,
            refresh=True,
        )
        failures = result.body.get("failures") or []
        if failures:
            raise ApplyError(
                f"reindex {previous} -> {index}: {len(failures)} documents failed, "
                f"first: {failures[0]}"
            )
    except (ApiError, ApplyError):
        client.options(ignore_status=404).indices.delete(index=index)
        raise
    client.indices.update_aliases(
        actions=[
            {"remove": {"index": previous, "alias": asset.alias}},
            {"add": {"index": index, "alias": asset.alias, "is_write_index": True}},
        ]
    )
