"""A source's templated reader role: DLS on the source's own ACL field, kept in `roles/`.

The role mirrors `roles/es-rag-reader.json`: a user reads the documents whose ACL field names
them, one of their groups (`metadata.groups`, as `es-rag users add` stores them) or `public`.
`es-rag apply` stores it like every role; searches as the user then see only those documents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from es_rag.sources.definition import SourceDefinition


def role_name(definition: SourceDefinition) -> str:
    return f"es-rag-source-{definition.name}-reader"


def reader_role(definition: SourceDefinition) -> dict[str, Any]:
    """The role body for a source with an ACL field (ValueError without one)."""
    acl = definition.fields.get("acl")
    if not acl:
        raise ValueError(f"source {definition.name!r} names no ACL field")
    dls = json.dumps({"bool": {"should": [
        {"term": {acl: "{{_user.username}}"}},
        {"terms": {acl: "GROUPS"}},
        {"term": {acl: "public"}}], "minimum_should_match": 1}})
    dls = dls.replace('"GROUPS"', "{{#toJson}}_user.metadata.groups{{/toJson}}")
    return {"description": f"End users reading source {definition.name!r} "
                           f"({definition.index}): documents whose {acl} names the user, one "
                           "of the user's groups (metadata.groups) or public",
            "cluster": ["monitor", "cluster:admin/script/get"],
            "indices": [{"names": [definition.index], "privileges": ["read"],
                         "query": {"template": {"source": dls}}}],
            "metadata": {"es_rag": {"asset": role_name(definition),
                                    "source": definition.name}}}


def write_reader_role(assets: Path, definition: SourceDefinition) -> Path:
    """Write `roles/es-rag-source-<name>-reader.json`; returns its path."""
    path = Path(assets) / "roles" / f"{role_name(definition)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reader_role(definition), indent=2) + "\n", encoding="utf-8")
    return path
