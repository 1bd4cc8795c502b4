"""Access lists for ingested files: rules that map path globs to the users and groups allowed.

A rules file (JSON, or YAML when PyYAML is installed) maps globs to principals, first match wins:

    {"hr/**": ["hr"], "*.pdf": ["staff", "alice"], "**": ["public"]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from es_rag.errors import EsRagError
from es_rag.ingest.discover import SourceFile, matches_any


class AclRulesError(EsRagError, ValueError):
    """The access rules cannot be used; the message names the file and the rule."""


@dataclass(frozen=True)
class AclRules:
    """Ordered (glob, principals) rules; calling them with a file gives that file's `acl`.

    Globs follow `discover`'s rules and match the file's source path. The first matching rule
    decides; a file no rule matches gets no `acl` (None).
    """

    rules: tuple[tuple[str, tuple[str, ...]], ...]

    def __call__(self, file: SourceFile) -> list[str] | None:
        for pattern, principals in self.rules:
            if matches_any(file.source, [pattern]):
                return list(principals)
        return None


def acl_rules(mapping: Mapping[str, Any], *, origin: str = "acl rules") -> AclRules:
    """Rules from a mapping of glob to a principal or a list of principals, in mapping order."""
    if not isinstance(mapping, Mapping):
        raise AclRulesError(f"{origin}: expected a mapping of path globs to users and groups")
    rules = []
    for pattern, allowed in mapping.items():
        principals = [allowed] if isinstance(allowed, str) else allowed
        if (not isinstance(pattern, str) or not pattern or not isinstance(principals, list)
                or not all(isinstance(p, str) and p for p in principals)):
            raise AclRulesError(f"{origin}: rule {pattern!r} must map a glob to a user or group "
                                "name or a list of them")
        rules.append((pattern, tuple(principals)))
    return AclRules(tuple(rules))


def load_acl_rules(path: str | Path) -> AclRules:
    """Read rules from a `.json`, `.yaml` or `.yml` file."""
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AclRulesError(f"{path}: cannot read the access rules: {exc.strerror}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise AclRulesError(f"{path}: YAML access rules need PyYAML "
                                "(pip install pyyaml), or write them as JSON") from None
        try:
            data = yaml.safe_load(content)
        except yaml.YAMLError as exc:
            raise AclRulesError(f"{path}: not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            raise AclRulesError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, "
                                f"column {exc.colno}") from None
    return acl_rules(data, origin=str(path))
