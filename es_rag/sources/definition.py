"""Source definitions: an existing index es-rag searches but does not own, kept as code.

A source is `sources/<name>.json` in the assets folder. It names the index or alias; which
fields hold the passage text, title, URL or path, headings, access-control values and
timestamps; the lexical fields with their boosts; the vector field (`dense_vector` with the
model that made it, `semantic_text`, or `none`: then kNN legs are off and hybrid search is
lexical only); how passages are laid out (`document`: the text field is the passage, `nested`:
each nested object is one, `semantic_text`: the field's chunks); and filters that always apply.

```json
{"index": "team-docs",
 "fields": {"text": "body", "title": "title", "url": "url", "acl": "groups"},
 "lexical": {"body": 1.0, "title": 2.0},
 "vector": {"kind": "dense_vector", "field": "body_vector", "model": "all-MiniLM-L6-v2",
            "dims": 384, "similarity": "cosine"},
 "passages": {"layout": "document"},
 "filters": ["status=published"]}
```
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from es_rag.errors import EsRagError
from es_rag.retrieve.filters import Filter, FilterError, parse_filters

FOLDER = "sources"
FIELD_ROLES = ("text", "title", "url", "headings", "acl", "timestamp")
VECTOR_KINDS = ("dense_vector", "semantic_text", "none")
LAYOUTS = ("document", "nested", "semantic_text")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TOP_KEYS = ("index", "fields", "lexical", "vector", "passages", "filters", "description")


class SourceError(EsRagError, ValueError):
    """A source definition that cannot be read or used; the message names the file and key."""


@dataclass(frozen=True)
class VectorField:
    """The source's vector field: `dense_vector` (made with `model`), `semantic_text` or none."""

    kind: str = "none"
    field: str | None = None
    model: str | None = None
    dims: int | None = None
    similarity: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.kind == "none":
            return {"kind": "none"}
        out: dict[str, Any] = {"kind": self.kind, "field": self.field}
        if self.kind == "dense_vector":
            out.update(model=self.model, dims=self.dims, similarity=self.similarity)
        return out


@dataclass(frozen=True)
class SourceDefinition:
    """One existing index or alias es-rag searches (and never writes to)."""

    name: str
    index: str
    fields: Mapping[str, str]
    lexical: Mapping[str, float]
    vector: VectorField = field(default_factory=VectorField)
    layout: str = "document"
    nested_path: str | None = None
    filters: tuple[str, ...] = ()
    description: str = ""

    @property
    def text_field(self) -> str:
        return self.fields["text"]

    @property
    def has_vectors(self) -> bool:
        return self.vector.kind != "none"

    def parsed_filters(self) -> tuple[Filter, ...]:
        return parse_filters(self.filters)

    def as_dict(self) -> dict[str, Any]:
        """The JSON of `sources/<name>.json`."""
        passages: dict[str, Any] = {"layout": self.layout}
        if self.nested_path:
            passages["path"] = self.nested_path
        out: dict[str, Any] = {"index": self.index, "fields": dict(self.fields),
                               "lexical": dict(self.lexical), "vector": self.vector.as_dict(),
                               "passages": passages, "filters": list(self.filters)}
        if self.description:
            out["description"] = self.description
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"


def _need(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise SourceError(f"{where}: {key} must be a {kind.__name__} (got {value!r})")
    return value


def _vector(data: Any, where: str) -> VectorField:
    if data is None:
        return VectorField()
    if not isinstance(data, Mapping):
        raise SourceError(f"{where}: vector must be an object")
    kind = data.get("kind", "none")
    if kind not in VECTOR_KINDS:
        raise SourceError(f"{where}: vector.kind {kind!r} is not one of "
                          f"{', '.join(VECTOR_KINDS)}")
    if kind == "none":
        return VectorField()
    name = data.get("field")
    if not isinstance(name, str) or not name:
        raise SourceError(f"{where}: vector.field is needed for a {kind} vector")
    if kind == "semantic_text":
        return VectorField(kind, name)
    model, dims = data.get("model"), data.get("dims")
    if not isinstance(model, str) or not model:
        raise SourceError(f"{where}: vector.model must name the model that made {name!r} "
                          "(queries are embedded with it)")
    if not isinstance(dims, int) or dims < 1:
        raise SourceError(f"{where}: vector.dims must be a positive integer")
    return VectorField(kind, name, model, dims, data.get("similarity") or "cosine")


def parse_definition(name: str, data: Any, where: str) -> SourceDefinition:
    """Validate a parsed source definition; errors name `where` and the bad key."""
    if not _NAME.match(name):
        raise SourceError(f"{where}: source name {name!r} must be lowercase letters, digits, "
                          "'-' or '_'")
    if not isinstance(data, Mapping):
        raise SourceError(f"{where}: expected a JSON object")
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise SourceError(f"{where}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(_TOP_KEYS)})")
    index = _need(data, "index", str, where)
    fields = _need(data, "fields", Mapping, where)
    bad = sorted(set(fields) - set(FIELD_ROLES))
    if bad:
        raise SourceError(f"{where}: unknown field role(s) {', '.join(bad)} "
                          f"(known: {', '.join(FIELD_ROLES)})")
    fields = {k: v for k, v in fields.items() if v}
    if not isinstance(fields.get("text"), str):
        raise SourceError(f"{where}: fields.text must name the field holding the passage text")
    lexical = data.get("lexical") or {fields["text"]: 1.0}
    if not isinstance(lexical, Mapping):
        raise SourceError(f"{where}: lexical must map field names to boosts")
    try:
        boosts = {str(k): float(v) for k, v in lexical.items()}
    except (TypeError, ValueError):
        raise SourceError(f"{where}: lexical boosts must be numbers") from None
    if any(b <= 0 for b in boosts.values()):
        raise SourceError(f"{where}: lexical boosts must be positive")
    passages = data.get("passages") or {"layout": "document"}
    layout = passages.get("layout", "document") if isinstance(passages, Mapping) else None
    if layout not in LAYOUTS:
        raise SourceError(f"{where}: passages.layout {layout!r} is not one of "
                          f"{', '.join(LAYOUTS)}")
    vector = _vector(data.get("vector"), where)
    path = passages.get("path")
    if layout == "nested":
        if not isinstance(path, str) or not path:
            raise SourceError(f"{where}: passages.path must name the nested field")
        for role, name_ in (("fields.text", fields["text"]), ("vector.field", vector.field)):
            if name_ and not name_.startswith(path + "."):
                raise SourceError(f"{where}: {role} {name_!r} must lie inside the nested "
                                  f"field {path!r} (e.g. {path}.text)")
    if layout == "semantic_text" and vector.kind != "semantic_text":
        raise SourceError(f"{where}: semantic_text passages need vector.kind semantic_text")
    filters = data.get("filters") or []
    if not isinstance(filters, list) or not all(isinstance(f, str) for f in filters):
        raise SourceError(f"{where}: filters must be a list of filter strings")
    try:
        parse_filters(filters)
    except FilterError as exc:
        raise SourceError(f"{where}: {exc}") from None
    return SourceDefinition(name, index, fields, boosts, vector, layout,
                            path if layout == "nested" else None, tuple(filters),
                            str(data.get("description") or ""))


def source_path(assets: Path, name: str) -> Path:
    return Path(assets) / FOLDER / f"{name}.json"


def load_source(assets: Path, name: str) -> SourceDefinition:
    """`sources/<name>.json`; a missing one is refused with the names that exist."""
    path = source_path(assets, name)
    if not path.is_file():
        known = ", ".join(sorted(load_sources(assets))) or "none"
        raise SourceError(f"no source named {name!r} ({path} does not exist; defined: {known}). "
                          f"Propose one with `es-rag inspect INDEX --name {name} --write`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    return parse_definition(name, data, str(path))


def load_sources(assets: Path) -> dict[str, SourceDefinition]:
    """Every source defined in the assets folder, by name."""
    folder = Path(assets) / FOLDER
    if not folder.is_dir():
        return {}
    return {p.stem: load_source(assets, p.stem) for p in sorted(folder.glob("*.json"))}


def write_source(assets: Path, definition: SourceDefinition) -> Path:
    """Write `sources/<name>.json` (atomically); returns its path."""
    path = source_path(assets, definition.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(definition.to_json(), encoding="utf-8")
    partial.replace(path)
    return path
