"""Loading the asset files (mappings, pipelines, templates, roles, retrieval parameters)
and the diffs `plan` shows."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
SEMANTIC_FIELD = "text_semantic"  # the chunk text as semantic_text (embedding = semantic_text)


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
        return digest(self.body)


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
    inference: list[Asset] = field(default_factory=list)  # inference/*.json, endpoints


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


def digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def read_json(path: Path) -> dict[str, Any]:
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


def semantic_text_variant(body: dict[str, Any], inference_id: str) -> dict[str, Any]:
    """A chunk mapping whose `text` is also copied to the `semantic_text` field
    `SEMANTIC_FIELD` on `inference_id` (pinned: never the cluster's default endpoint), so the
    cluster chunks and embeds each passage; mappings without `text` and `embedding` stay."""
    properties = body.get("mappings", {}).get("properties", {})
    if "text" not in properties or VECTOR_FIELD not in properties:
        return body
    variant = json.loads(json.dumps(body))
    properties = variant["mappings"]["properties"]
    properties["text"]["copy_to"] = [SEMANTIC_FIELD]
    properties[SEMANTIC_FIELD] = {"type": "semantic_text", "inference_id": inference_id}
    return variant


def load_assets(root: Path, *, embedding_dims: int | None = None,
                cluster_model_id: str | None = None,
                semantic_inference_id: str | None = None) -> Assets:
    """Read and validate every asset under `root`: mappings, pipelines, search templates, roles
    and `retrieval.json` (whose values become the search templates' defaults).

    A pipeline whose `inference` processor writes `embedding` belongs to cluster-side embedding:
    with `cluster_model_id` (embedding = cluster) its processor's `model_id` is set to it;
    without, the pipeline is left out. Raises AssetError naming the file (and line, for JSON
    syntax errors) before anything is sent. With `semantic_inference_id` (embedding =
    semantic_text) the chunk mapping becomes its `semantic_text_variant` on that endpoint.
    Inference endpoints come from `inference/*.json` (`es_rag.assets.inference`); those in use
    are applied: named by a semantic_text field, `semantic_inference_id` or
    `retrieval.json`'s `rerank.inference_id` (an unused one would only load its model).
    """
    from es_rag.assets.inference import load_inference

    if not (root / "mappings").is_dir():
        raise AssetError(
            f"{root}: no mappings/ folder here; set ES_RAG_ASSETS to the folder "
            "that holds mappings/, pipelines/, templates/ and roles/"
        )
    indices = []
    for path in sorted((root / "mappings").glob("*.json")):
        body = read_json(path)
        _validate_index_body(path, body, embedding_dims)
        if semantic_inference_id:
            body = semantic_text_variant(body, semantic_inference_id)
        indices.append(IndexAsset(alias=path.stem, path=path, body=body))
    pipelines = [
        Asset("pipeline", p.stem, p, read_json(p))
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
                example_params=read_json(params_path),
            )
        )
    roles = [
        Asset("role", p.stem, p, read_json(p)) for p in sorted((root / "roles").glob("*.json"))
    ]
    retrieval = [] if defaults.origin != "file" else [Asset(
        "retrieval", retrieval_defaults.STORED_ID, root / retrieval_defaults.FILE_NAME,
        {"script": {"lang": "mustache", "source": defaults.to_json()}})]
    used = {semantic_inference_id, defaults.params.rerank.inference_id,
            *(spec.get("inference_id") for index in indices
              for spec in index.body.get("mappings", {}).get("properties", {}).values()
              if spec.get("type") == "semantic_text")}
    inference = [endpoint for endpoint in load_inference(root) if endpoint.name in used]
    return Assets(indices=indices, pipelines=pipelines, templates=templates, roles=roles,
                  retrieval=retrieval, inference=inference)


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


def unified_diff(name: str, before: Any, after: Any) -> str:
    return "\n".join(
        difflib.unified_diff(
            _pretty(before), _pretty(after), f"cluster:{name}", f"file:{name}", lineterm=""
        )
    )
