"""Search assets as code: load mappings, pipelines, search templates and roles from disk, and
plan / apply / roll back them on a cluster like migrations.

Indices are versioned (`chunks-v1`, `chunks-v2`, ...) behind an alias named after the mapping
file (`chunks`). A compatible change (new fields, dynamic settings) is applied in place; an
incompatible one creates the next version, reindexes into it and swaps the alias atomically.
The previous version keeps serving until the swap, and stays until `prune_versions`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from es_rag import stored_form
from es_rag.connect import Capabilities, error_reason
from es_rag.errors import EsRagError
from es_rag.retrieve import defaults as retrieval_defaults

VERSION_RE = re.compile(r"^(?P<alias>.+)-v(?P<version>\d+)$")
# a parameter's default in a mustache search template: {{^name}}default{{/name}}
TEMPLATE_DEFAULT_RE = re.compile(r"\{\{\^(?P<name>\w+)\}\}(?P<value>[^{}]*)\{\{/(?P=name)\}\}")
# Index settings Elasticsearch lets a live index change; anything else needs a new version.
DYNAMIC_SETTINGS = (
    "number_of_replicas",
    "refresh_interval",
    "default_pipeline",
    "final_pipeline",
    "max_result_window",
)
# Field-mapping parameters that a live index can change.
UPDATABLE_FIELD_PARAMS = ("ignore_above", "fields", "properties", "dynamic", "_meta")
VECTOR_FIELD = "embedding"  # the chunk vector a cluster-embedding pipeline writes


class AssetError(EsRagError, ValueError):
    """An asset file is invalid; the message names the file and the problem."""


class ApplyError(EsRagError, RuntimeError):
    """Applying a change failed; what was serving before still serves."""


@dataclass(frozen=True)
class IndexAsset:
    """One mapping file: the alias it defines and the index-creation body."""

    alias: str
    path: Path
    body: dict[str, Any]

    @property
    def digest(self) -> str:
        return _digest(self.body)


@dataclass(frozen=True)
class Asset:
    """A pipeline, stored search template or role: a named JSON body."""

    kind: str  # "pipeline" | "template" | "role" | "retrieval"
    name: str
    path: Path
    body: dict[str, Any]
    example_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Assets:
    """Everything under an assets folder."""

    indices: list[IndexAsset]
    pipelines: list[Asset]
    templates: list[Asset]
    roles: list[Asset]
    retrieval: list[Asset] = field(default_factory=list)  # retrieval.json, a stored script


@dataclass
class Change:
    """One difference between the files and the cluster, and what applying it does."""

    kind: str
    name: str
    action: str  # create | update | new_version
    reason: str
    diff: str = ""
    target: str = ""  # for indices: the concrete index name written

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AssetError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise AssetError(f"{path}: expected a JSON object at the top level")
    return data


def _validate_index_body(path: Path, body: dict[str, Any], embedding_dims: int | None) -> None:
    unknown = set(body) - {"settings", "mappings", "aliases"}
    if unknown:
        raise AssetError(
            f"{path}: unknown top-level keys {sorted(unknown)} (accepted: settings, mappings)"
        )
    properties = body.get("mappings", {}).get("properties", {})
    for name, spec in properties.items():
        if spec.get("type") == "dense_vector" and embedding_dims is not None:
            dims = spec.get("dims")
            if dims is not None and dims != embedding_dims:
                raise AssetError(
                    f"{path}: field {name!r} has dims {dims} but the configured "
                    f"embedding model produces {embedding_dims}-dimensional vectors"
                )


def embedding_processors(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `inference` processors of a pipeline body that write the chunk vector (`embedding`)."""
    found = []
    for processor in body.get("processors", []):
        inference = processor.get("inference") if isinstance(processor, dict) else None
        if isinstance(inference, dict) and any(
                isinstance(io, dict) and io.get("output_field") == VECTOR_FIELD
                for io in inference.get("input_output", [])):
            found.append(inference)
    return found


def load_assets(root: Path, *, embedding_dims: int | None = None,
                cluster_model_id: str | None = None) -> Assets:
    """Read and validate every asset under `root`: mappings, pipelines, search templates, roles
    and `retrieval.json` (whose values become the search templates' defaults).

    A pipeline whose `inference` processor writes `embedding` belongs to cluster-side embedding:
    with `cluster_model_id` (embedding = cluster) its processor's `model_id` is set to it;
    without, the pipeline is left out. Raises AssetError naming the file (and line, for JSON
    syntax errors) before anything is sent.
    """
    if not (root / "mappings").is_dir():
        raise AssetError(
            f"{root}: no mappings/ folder here; set ES_RAG_ASSETS to the folder "
            "that holds mappings/, pipelines/, templates/ and roles/"
        )
    indices = []
    for path in sorted((root / "mappings").glob("*.json")):
        body = _read_json(path)
        _validate_index_body(path, body, embedding_dims)
        indices.append(IndexAsset(alias=path.stem, path=path, body=body))
    pipelines = [
        Asset("pipeline", p.stem, p, _read_json(p))
        for p in sorted((root / "pipelines").glob("*.json"))
    ]
    for pipeline in pipelines:
        if not isinstance(pipeline.body.get("processors"), list):
            raise AssetError(f"{pipeline.path}: a pipeline needs a 'processors' list")
        for processor in embedding_processors(pipeline.body):
            if cluster_model_id:
                processor["model_id"] = cluster_model_id
    # cluster-embedding pipelines run the others through `pipeline` processors: they go last
    pipelines = sorted(
        (p for p in pipelines if cluster_model_id or not embedding_processors(p.body)),
        key=lambda p: bool(embedding_processors(p.body)))
    try:
        defaults = retrieval_defaults.read_file(root)
    except retrieval_defaults.RetrievalFileError as exc:
        raise AssetError(str(exc)) from None
    templates = []
    for path in sorted((root / "templates" / "search").glob("*.mustache")):
        params_path = path.with_suffix(".params.json")
        if not params_path.is_file():
            raise AssetError(
                f"{path}: missing {params_path.name} with example params "
                "(needed to check that the template renders a valid search)"
            )
        source = _with_retrieval_defaults(path.read_text(encoding="utf-8"), defaults)
        templates.append(
            Asset(
                "template",
                path.stem,
                path,
                {"script": {"lang": "mustache", "source": source}},
                example_params=_read_json(params_path),
            )
        )
    roles = [
        Asset("role", p.stem, p, _read_json(p)) for p in sorted((root / "roles").glob("*.json"))
    ]
    retrieval = [] if defaults.origin != "file" else [Asset(
        "retrieval", retrieval_defaults.STORED_ID, root / retrieval_defaults.FILE_NAME,
        {"script": {"lang": "mustache", "source": defaults.to_json()}})]
    return Assets(indices=indices, pipelines=pipelines, templates=templates, roles=roles,
                  retrieval=retrieval)


def _with_retrieval_defaults(source: str,
                             defaults: retrieval_defaults.RetrievalDefaults) -> str:
    """The template with its retrieval parameters' defaults taken from `retrieval.json`, so
    `_search/template` callers search with the same values as every other path (an RRF
    template's kNN leg fetches the window, as hybrid search does)."""
    if defaults.origin != "file":
        return source
    values = (retrieval_defaults.hybrid_template_values(defaults) if "rrf" in source
              else retrieval_defaults.template_values(defaults))
    known = template_defaults(source)
    return set_template_defaults(source, {k: v for k, v in values.items() if k in known})


def template_defaults(source: str) -> dict[str, str]:
    """The default of every `{{^name}}default{{/name}}` section of a mustache search template."""
    return {m["name"]: m["value"] for m in TEMPLATE_DEFAULT_RE.finditer(source)}


def set_template_defaults(source: str, values: Mapping[str, Any]) -> str:
    """The template with the defaults of the named parameters replaced by `values`.

    Only the text between `{{^name}}` and `{{/name}}` changes, so the template stays valid.
    Raises AssetError naming a parameter the template has no default for.
    """
    known = template_defaults(source)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise AssetError(f"the template has no default for {', '.join(unknown)} "
                         f"(it has: {', '.join(sorted(known))})")

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in values:
            return match[0]
        return f"{{{{^{name}}}}}{values[name]}{{{{/{name}}}}}"

    return TEMPLATE_DEFAULT_RE.sub(replace, source)


def file_diff(path: Path, before: str, after: str) -> str:
    """A unified diff of a file's text before and after a change (empty when unchanged)."""
    return "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True),
                                        f"a/{path.name}", f"b/{path.name}"))


def _pretty(body: Any) -> list[str]:
    return json.dumps(body, indent=2, sort_keys=True).splitlines()


def _unified(name: str, before: Any, after: Any) -> str:
    return "\n".join(
        difflib.unified_diff(
            _pretty(before), _pretty(after), f"cluster:{name}", f"file:{name}", lineterm=""
        )
    )


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
            _unified(asset.alias, {}, asset.body),
            _next_version(client, asset.alias, first=1),
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
    diff = _unified(asset.alias, live_form, wanted_form)
    if problems:
        return Change(
            "index",
            asset.alias,
            "new_version",
            "incompatible: " + "; ".join(problems),
            diff,
            _next_version(client, asset.alias, first=2),
        )
    return Change(
        "index", asset.alias, "update", "compatible: new fields or dynamic settings", diff, current
    )


def _next_version(client: Elasticsearch, alias: str, first: int) -> str:
    """The index for the next version behind `alias`: one past the newest, else `-v{first}`."""
    versions = index_versions(client, alias)
    return f"{alias}-v{versions[-1][0] + 1 if versions else first}"


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
            _unified(asset.name, {}, wanted),
        )
    if _digest(form(current)) == _digest(form(wanted)):
        return None
    return Change(
        asset.kind,
        asset.name,
        "update",
        f"{asset.kind} differs from its file",
        _unified(asset.name, form(current), form(wanted)),
    )


def plan(client: Elasticsearch, caps: Capabilities, assets: Assets) -> list[Change]:
    """What applying `assets` would change on the cluster; empty when it matches the files."""
    changes: list[Change] = []
    for asset in [*assets.pipelines, *assets.templates, *assets.retrieval, *assets.roles]:
        change = _plan_named(client, asset, caps)
        if change:
            changes.append(change)
    for index in assets.indices:
        change = _plan_index(client, index)
        if change:
            changes.append(change)
    return changes


def _index_body(asset: IndexAsset) -> dict[str, Any]:
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

    Pipelines and templates go first (indices name their default pipeline). A failure raises
    ApplyError; the alias still points to the version that served before.
    """
    for template in assets.templates:
        _check_template(client, template)
    changes = plan(client, caps, assets)
    by_name = {(a.kind, a.name): a
               for a in [*assets.pipelines, *assets.templates, *assets.retrieval, *assets.roles]}
    indices = {a.alias: a for a in assets.indices}
    for change in changes:
        progress(f"{change.action} {change.kind} {change.name}")
        try:
            if change.kind == "pipeline":
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
            raise ApplyError(
                f"applying {change.kind} {change.name} failed: "
                f"{exc.meta.status} {error_reason(exc)}"
            ) from None
    return changes


def _update_index(client: Elasticsearch, asset: IndexAsset, index: str) -> None:
    body = _index_body(asset)
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
    client.indices.create(index=index, **_index_body(asset))
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
