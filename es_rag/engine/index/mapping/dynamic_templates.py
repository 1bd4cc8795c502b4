"""Dynamic templates: checked when a mapping is set, matched against each new field."""

from __future__ import annotations

from typing import Any

from ...errors import MapperParsingError

_TEMPLATE_KEYS = {"match_mapping_type", "match", "unmatch", "path_match", "path_unmatch",
                  "match_pattern", "mapping", "unmatch_mapping_type"}


def check_templates(templates: Any) -> list[dict[str, Any]]:
    """The `dynamic_templates` of a mapping, refused as Elasticsearch refuses bad ones."""
    if not isinstance(templates, list):
        raise MapperParsingError("Dynamic template syntax error. An array of named objects is "
                                 "expected.")
    for template in templates:
        if not isinstance(template, dict) or len(template) != 1:
            raise MapperParsingError("Dynamic template syntax error. An array of named objects "
                                     "is expected.")
        name, spec = next(iter(template.items()))
        if not isinstance(spec, dict):
            raise MapperParsingError(f"dynamic template [{name}] must be an object")
        for key in spec:
            if key not in _TEMPLATE_KEYS:
                raise MapperParsingError(f"Illegal dynamic template parameter: [{key}]")
        if "runtime" in spec:
            raise MapperParsingError("runtime dynamic templates are not supported by the "
                                     "embedded engine")
    return templates


def _as_patterns(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def template_matches(spec: dict[str, Any], path: str, kind: str) -> bool:
    """Whether a template applies to a new field at `path` whose detected type is `kind`."""
    import fnmatch
    import re as regex

    name = path.rsplit(".", 1)[-1]
    types = _as_patterns(spec.get("match_mapping_type"))
    if types and "*" not in types and kind not in types:
        return False
    if kind in _as_patterns(spec.get("unmatch_mapping_type")):
        return False
    use_regex = spec.get("match_pattern") == "regex"

    def hit(pattern: str, text: str) -> bool:
        return bool(regex.fullmatch(pattern, text)) if use_regex \
            else fnmatch.fnmatchcase(text, pattern)

    checks = [("match", name, True), ("unmatch", name, False), ("path_match", path, True),
              ("path_unmatch", path, False)]
    for key, text, wanted in checks:
        patterns = _as_patterns(spec.get(key))
        if patterns and any(hit(p, text) for p in patterns) != wanted:
            return False
    return True


def substitute(mapping: Any, name: str, dynamic_type: str) -> Any:
    """A template's mapping with `{name}` and `{dynamic_type}` filled in."""
    if isinstance(mapping, dict):
        return {k: substitute(v, name, dynamic_type) for k, v in mapping.items()}
    if isinstance(mapping, list):
        return [substitute(v, name, dynamic_type) for v in mapping]
    if isinstance(mapping, str):
        return mapping.replace("{name}", name).replace("{dynamic_type}", dynamic_type)
    return mapping
