"""The `grok` processor and the pattern bank behind `GET _ingest/processor/grok`.

The built-in patterns are the legacy Logstash pattern set Elasticsearch bundles (as shipped in
the `python-grok` package: the same 318 definitions). A grok expression becomes an Oniguruma-
style regular expression (`regex` module: atomic groups, POSIX classes, `^`/`$` per line as in
Ruby syntax); each `%{PATTERN:field:type}` capture is a named group, so the same field captured
twice gives a list, as Elasticsearch's `GrokCaptureExtracter` does.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import regex

from es_rag.engine.errors import BadRequest
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument
from es_rag.engine.ingest.processors.base import Processor
from es_rag.engine.ingest.processors.conversions import java_floating

# Elasticsearch's legacy (ecs_compatibility: disabled) pattern files, in its loading order.
_LEGACY_FILES = ("aws", "bacula", "bind", "bro", "exim", "firewalls", "grok-patterns",
                 "haproxy", "httpd", "java", "junos", "linux-syslog", "maven",
                 "mcollective-patterns", "mongodb", "nagios", "postgresql", "rails", "redis",
                 "ruby", "squid")
ECS_MODES = ("disabled", "v1")
_REFERENCE = regex.compile(r"%\{(?P<pattern>[A-z0-9]+)(?::(?P<subname>[[:alnum:]@\[\]_:.-]+))?"
                           r"(?:=(?P<definition>(?:[^{}]+|\.+)+))?\}")
_RAW_NAMED_GROUP = regex.compile(r"(?<!\\)\(\?<(?![=!])([^>]+)>")
# Oniguruma reads `x?*` as `(x?)*` (a nested repeat, e.g. `.?*` in SHOREWALL); `regex` refuses it
_NESTED_REPEAT = regex.compile(r"(?<!\\)(\\.|[^\\()\[\]*+?{}])\?([*+])")
_MATCH_INDEX = "_ingest._grok_match_index"
_MAX_EXPANSIONS = 100_000


@functools.cache
def builtin_patterns() -> dict[str, str]:
    """The bundled pattern bank, name → definition, in file order."""
    spec = importlib.util.find_spec("grok")  # the data only: the package's code is not run
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the python-grok package (grok patterns) is not installed")
    folder = Path(spec.submodule_search_locations[0]) / "patterns"
    bank: dict[str, str] = {}
    for name in _LEGACY_FILES:
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, definition = line.partition(" ")
            bank[key] = definition.strip()
    return bank


def forbid_cycles(bank: dict[str, str]) -> None:
    """Refuse a bank whose patterns reference themselves, directly or through others, or a
    pattern that does not exist (Elasticsearch's `PatternBank` checks)."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in done:
            return
        for ref in _references(bank[name]):
            if ref == path[0] or ref in path:
                cycle = [*path, ref]
                raise ValueError("circular reference detected: " + "->".join(cycle))
            if ref not in bank:
                raise ValueError(f"pattern [{name}] is referencing a non-existent pattern "
                                 f"[{ref}]")
            visit(ref, [*path, ref])
        done.add(name)

    for start in bank:
        visit(start, [start])


def _references(definition: str) -> list[str]:
    names = []
    start = definition.find("%{")
    while start != -1:
        rest = definition[start + 2:]
        end = min((i for i in (rest.find("}"), rest.find(":")) if i != -1), default=-1)
        if end == -1:
            raise ValueError(f"pattern [{definition}] has an invalid syntax")
        if rest[:end] not in names:
            names.append(rest[:end])
        start = definition.find("%{", start + 2)
    return names


class Grok:
    """One compiled grok expression: `captures(text)` gives field → value, or None."""

    def __init__(self, bank: dict[str, str], expression: str) -> None:
        self._groups: dict[str, tuple[str, str]] = {}  # group → (field, type)
        source = self._to_regex(bank, expression)
        try:
            self._regex = regex.compile(source, regex.MULTILINE | regex.VERSION0)
        except regex.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None

    def _group(self, full_name: str) -> str:
        parts = full_name.split(":")
        field = parts[1] if len(parts) >= 2 else parts[0]
        kind = parts[2] if len(parts) == 3 else "string"
        group = f"g{len(self._groups)}"
        self._groups[group] = (field, kind)
        return group

    def _to_regex(self, bank: dict[str, str], expression: str) -> str:
        out: list[str] = []
        rest = expression
        for _ in range(_MAX_EXPANSIONS):
            match = _REFERENCE.search(rest)
            if match is None:
                out.append(rest)
                return self._rename_raw_groups("".join(out))
            name = match.group("pattern")
            definition = bank.get(name)
            if definition is None:
                raise ValueError(f"Unable to find pattern [{name}] in Grok's pattern dictionary")
            if f"%{{{name}}}" in definition or f"%{{{name}:" in definition:
                raise ValueError(f"circular reference in pattern back [{name}]")
            subname = match.group("subname")
            if subname is not None:
                full = f"{name}:{subname}"
                part = f"(?P<{self._group(full)}>{definition})"
            else:
                part = f"(?:{definition})"
            out.append(rest[:match.start()])
            rest = part + rest[match.end():]
        raise ValueError("Can not convert grok patterns to regular expression")

    def _rename_raw_groups(self, source: str) -> str:
        """Oniguruma `(?<field>…)` groups written in definitions are captures too; nested
        repeats are made explicit."""
        source = _NESTED_REPEAT.sub(r"(?:\1?)\2", source)
        return _RAW_NAMED_GROUP.sub(lambda m: f"(?P<{self._group(m.group(1))}>", source)

    def captures(self, text: str) -> dict[str, Any] | None:
        match = self._regex.search(text)
        if match is None:
            return None
        out: dict[str, Any] = {}
        for group, (field, kind) in self._groups.items():
            value = match.group(group)
            if value is None:
                continue
            value = _typed(value, kind)
            if field not in out:
                out[field] = value
            elif isinstance(out[field], list):
                out[field].append(value)
            else:
                out[field] = [out[field], value]
        return out


def _typed(value: str, kind: str) -> Any:
    """Elasticsearch's `GrokCaptureType` conversions (unknown types stay strings)."""
    try:
        if kind == "int":
            return _java_int(value, 32)
        if kind == "long":
            return _java_int(value, 64)
        if kind in ("float", "double"):
            return java_floating(value, kind)
    except BadRequest:
        raise BadRequest(f'For input string: "{value}"',
                         error_type="number_format_exception") from None
    if kind == "boolean":
        return value.lower() == "true"
    return value


def _java_int(value: str, bits: int) -> int:
    if not regex.fullmatch(r"[+-]?[0-9]+", value):
        raise BadRequest(value)
    number = int(value)
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise BadRequest(value)
    return number


def combine(patterns: list[str], trace_match: bool) -> str:
    """Several patterns as one alternation; with `trace_match` each is a capture naming its
    position (Elasticsearch's `GrokProcessor.combinePatterns`)."""
    if len(patterns) == 1:
        return patterns[0]
    if trace_match:
        return "|".join(f"(?<{_MATCH_INDEX}.{i}>{p})" for i, p in enumerate(patterns))
    return "|".join(f"(?:{p})" for p in patterns)


class GrokProcessor(Processor):
    type = "grok"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_string("field")
        patterns = config.read_list("patterns")
        self.trace_match = config.read_bool("trace_match", False)
        self.ignore_missing = config.read_bool("ignore_missing", False)
        mode = config.read_string("ecs_compatibility", "disabled")
        if mode not in ECS_MODES:
            raise config.error("ecs_compatibility", f"unsupported mode '{mode}'")
        if mode == "v1":
            raise config.error("ecs_compatibility", "the ECS v1 pattern set is not bundled "
                                                    "with the embedded engine")
        if not patterns:
            raise config.error("patterns", "List of patterns must not be empty")
        custom = config.read("pattern_definitions", {})
        if not isinstance(custom, dict):
            raise config.error("pattern_definitions", "property isn't a map")
        self.patterns = [str(p) for p in patterns]
        bank = {**builtin_patterns(), **{str(k): str(v) for k, v in custom.items()}}
        try:
            if custom:
                forbid_cycles(bank)
            self.grok = Grok(bank, combine(self.patterns, self.trace_match))
        except ValueError as exc:
            listed = "[" + ", ".join(self.patterns) + "]"
            raise config.error("patterns", f"Invalid regex pattern found in: {listed}. "
                                           f"{exc}") from None

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        value = doc.get_string(self.field, self.ignore_missing)
        if value is None:
            if self.ignore_missing:
                return doc
            raise BadRequest(f"field [{self.field}] is null, cannot process it.")
        matches = self.grok.captures(value)
        if matches is None:
            raise BadRequest(f"Provided Grok expressions do not match field value: [{value}]")
        for name, captured in matches.items():
            doc.set(name, captured)
        if self.trace_match:
            if len(self.patterns) > 1:
                found = doc.get(_MATCH_INDEX, True)
                if isinstance(found, dict) and found:
                    doc.set(_MATCH_INDEX, next(iter(found)))
            else:
                doc.set(_MATCH_INDEX, "0")
        return doc


PROCESSORS: list[type[Processor]] = [GrokProcessor]
