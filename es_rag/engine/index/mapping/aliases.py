"""Field aliases (`"type": "alias", "path": ...`): another name for a concrete field.

An alias is searched, sorted, aggregated and collapsed on as its target, as Elasticsearch's
FieldAliasMapper resolves it to the target's field type: its `FieldSpec` takes the target's
type and parameters, and a document's target values are indexed under the alias name too
(adding an alias changes the full-text schema, so existing documents are re-indexed). Its
values in `_source` are the target's (`Mapping.source_path`); writing to it is refused."""

from __future__ import annotations

from ...errors import MapperParsingError
from .fields import FieldSpec
from .parsed import ParsedDocument

_NOT_COPIED = ("fields", "copy_to")


def resolve_aliases(fields: dict[str, FieldSpec]) -> dict[str, str]:
    """alias path → target path; each alias's spec in `fields` becomes its target's type.
    An alias to itself, to a missing field, an object or another alias is refused with
    FieldAliasMapper's messages."""
    aliases = {path: str(spec.params["path"]) for path, spec in fields.items()
               if spec.type == "alias"}
    for path, target in aliases.items():
        problem = None
        if target == path:
            problem = "an alias cannot refer to itself"
        elif target in aliases:
            problem = "an alias cannot refer to another alias"
        elif target not in fields or fields[target].type in ("object", "nested"):
            problem = "an alias must refer to an existing field in the mappings"
        if problem is not None:
            raise MapperParsingError(f"Invalid [path] value [{target}] for field alias "
                                     f"[{path}]: {problem}.")
        spec = fields[target]
        fields[path] = FieldSpec(path, spec.type, {k: v for k, v in spec.params.items()
                                                   if k not in _NOT_COPIED})
    for spec in fields.values():
        targets = spec.params.get("copy_to") if spec.type not in ("object", "nested") else None
        for target in targets if isinstance(targets, list) else [targets] if targets else []:
            if target in aliases:
                raise MapperParsingError(f"Cannot copy to a field alias [{target}].")
    return aliases


def alias_values(doc: ParsedDocument, aliases: dict[str, str]) -> None:
    """Index each alias with its target's values (in every nested object too)."""
    for alias, target in aliases.items():
        if target in doc.values:
            doc.values[alias] = list(doc.values[target])
        if target in doc.field_names:
            doc.field_names.add(alias)
        if target in doc.vectors:
            doc.vectors[alias] = doc.vectors[target]
    for obj in doc.nested:
        alias_values(obj.parsed, aliases)
