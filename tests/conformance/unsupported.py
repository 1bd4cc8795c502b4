"""Load ``unsupported.yml`` and find whether a test needs an API or body feature listed there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .suite import TestCase

DEFAULT_FILE = Path(__file__).with_name("unsupported.yml")


class UnsupportedFileError(ValueError):
    """The unsupported-features file is malformed."""


@dataclass(frozen=True)
class BodyKeyRule:
    """A request-body key that marks an unsupported feature for some APIs."""

    key: str
    reason: str
    apis: frozenset[str]


@dataclass
class Unsupported:
    """APIs and body features declared unsupported, each with its reason."""

    apis: dict[str, str] = field(default_factory=dict)
    body_keys: list[BodyKeyRule] = field(default_factory=list)

    def reason_for(self, test: TestCase) -> str | None:
        """Why the test needs something declared unsupported, or None."""
        for section in (test.setup, test.body, test.teardown):
            for step in section.steps:
                if "do" in step and isinstance(step["do"], dict):
                    reason = self._step_reason(step["do"])
                    if reason:
                        return reason
        return None

    def _step_reason(self, do: dict[str, Any]) -> str | None:
        for api, arguments in do.items():
            if api in self.apis:
                return f"needs api [{api}], declared unsupported: {self.apis[api]}"
            body = arguments.get("body") if isinstance(arguments, dict) else None
            for rule in self.body_keys:
                if api in rule.apis and any(_has_key(doc, rule.key) for doc in _documents(body)):
                    return (f"[{api}] request body uses [{rule.key}], declared unsupported: "
                            f"{rule.reason}")
        return None


def _documents(body: Any) -> Iterator[Any]:
    """The JSON documents of a body: a map, a list of maps/JSON lines, or JSON/NDJSON text."""
    items = body if isinstance(body, list) else [body]
    for item in items:
        if isinstance(item, str):
            try:
                yield json.loads(item)
            except ValueError:
                for line in item.splitlines():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue
        elif item is not None:
            yield item


def _has_key(document: Any, key: str) -> bool:
    if isinstance(document, dict):
        return key in document or any(_has_key(v, key) for v in document.values())
    if isinstance(document, list):
        return any(_has_key(v, key) for v in document)
    return False


def load_unsupported(path: Path = DEFAULT_FILE) -> Unsupported:
    """Read the declared unsupported APIs and body keys; UnsupportedFileError if malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UnsupportedFileError(f"cannot read {path}: {exc}") from exc
    unknown = set(data) - {"apis", "body_keys"}
    if unknown:
        raise UnsupportedFileError(f"{path}: unknown section(s) {sorted(unknown)}")
    apis = data.get("apis") or {}
    if not all(isinstance(v, str) and v for v in apis.values()):
        raise UnsupportedFileError(f"{path}: every api needs a reason string")
    rules = []
    for key, rule in (data.get("body_keys") or {}).items():
        if not isinstance(rule, dict) or not rule.get("reason") or not rule.get("apis"):
            raise UnsupportedFileError(f"{path}: body key [{key}] needs a reason and apis")
        rules.append(BodyKeyRule(str(key), str(rule["reason"]), frozenset(rule["apis"])))
    return Unsupported(dict(apis), rules)
