"""Legacy index templates (`_template`): their store, validation, lookup by name, and the
settings, mappings and aliases they give an index created with a name they match."""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .deprecation import warn
from .errors import BadRequest, EngineError, MapperParsingError
from .index import settings as index_settings
from .index.mapping import Mapping
from .storage.state import write_atomically

_BODY_KEYS = ("index_patterns", "order", "version", "settings", "mappings", "aliases")
_ALIAS_KEYS = {"filter", "routing", "index_routing", "search_routing", "is_write_index",
               "is_hidden"}
# Strings.INVALID_FILENAME_CHARS without `*` (a pattern's wildcard)
_INVALID_PATTERN_CHARS = ('\\', '/', '?', '"', '<', '>', '|')


class IndexTemplateMissing(EngineError):
    """`IndexTemplateMissingException`: a delete that names no template."""

    status = 404
    error_type = "index_template_missing_exception"

    def __init__(self, name: str) -> None:
        super().__init__(f"index_template [{name}] missing")


def _invalid(name: str, problems: list[str]) -> EngineError:
    """`InvalidIndexTemplateException` with the validation errors Elasticsearch lists."""
    listed = "".join(f"{i}: {p};" for i, p in enumerate(problems, 1))
    return EngineError(f"index_template [{name}] invalid, cause [Validation Failed: {listed}]",
                       status=400, error_type="invalid_index_template_exception")


def _simple_match(pattern: str, name: str) -> bool:
    """Elasticsearch's `Regex.simpleMatch`: `*` matches any run of characters, nothing else is
    special."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, name) is not None


def _merge_defaults(content: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """`XContentHelper.mergeDefaults`: keys of `defaults` that `content` lacks are added, maps
    present in both are merged the same way; `content`'s values win."""
    out = dict(content)
    for key, value in defaults.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = _merge_defaults(out[key], value)
        elif isinstance(out[key], list) and isinstance(value, list):
            out[key] = _merge_lists(out[key], value)
    return out


def _merge_lists(content: list[Any], defaults: list[Any]) -> list[Any]:
    """Lists of one-key objects (`dynamic_templates`) merge by key, the content's entries
    first; other lists are the defaults then the content's values not already there."""
    def keyed(items: list[Any]) -> bool:
        return all(isinstance(i, dict) and len(i) == 1 for i in items)

    if keyed(content) and keyed(defaults):
        merged: dict[str, dict[str, Any]] = {next(iter(i)): i for i in content}
        for item in defaults:
            key = next(iter(item))
            merged[key] = _merge_defaults(merged[key], item) if key in merged else \
                copy.deepcopy(item)
        return list(merged.values())
    out = copy.deepcopy(defaults)
    out.extend(i for i in content if i not in out)
    return out


def _alias_spec(name: str, spec: Any) -> dict[str, Any]:
    """A template alias as Elasticsearch stores it (`routing` split into index and search
    routing); validated standalone, as the index it will point to is not known yet."""
    if not isinstance(spec, dict):
        raise BadRequest(f"Failed to parse alias [{name}]: expected an object")
    for key in spec:
        if key not in _ALIAS_KEYS:
            raise EngineError(f"[aliases] unknown field [{key}]", status=400,
                              error_type="x_content_parse_exception")
    if not name.strip():
        raise BadRequest("alias name is required")
    out = {k: v for k, v in spec.items() if k != "routing"}
    if spec.get("routing") is not None:
        out.setdefault("index_routing", str(spec["routing"]))
        out.setdefault("search_routing", str(spec["routing"]))
    return out


class LegacyTemplates:
    """The legacy index templates of a node, persisted in one JSON file.

    Example::

        templates = LegacyTemplates(data_dir / "legacy_templates.json")
        templates.put("logs", {"index_patterns": ["logs-*"], "settings": {"number_of_shards": 2}})
        templates.apply("logs-1", None)["settings"]  # {'index.number_of_shards': '2'}
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._templates: dict[str, dict[str, Any]] = \
            json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._templates)

    @contextmanager
    def _changing(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Hold the lock, let the caller edit the templates, then persist them durably."""
        with self._lock:
            yield self._templates
            write_atomically(self._path, json.dumps(self._templates, ensure_ascii=False))

    def put(self, name: str, body: Any, *, order: int = 0, create: bool = False) -> None:
        """`PUT _template/{name}`: store (or with `create`, only add) a template. The body's
        `order` wins over the `order` URL parameter, as in Elasticsearch."""
        if not isinstance(body, dict):
            raise BadRequest("request body is required")
        template = self._parse(name, body, order)
        with self._changing() as templates:
            if create and name in templates:
                raise BadRequest(f"index_template [{name}] already exists")
            templates[name] = template

    def _parse(self, name: str, body: dict[str, Any], order: int) -> dict[str, Any]:
        for key in body:
            if key not in _BODY_KEYS:
                raise EngineError(f"unknown key [{key}] in the template ", status=400,
                                  error_type="parse_exception")
        patterns = body.get("index_patterns")
        if isinstance(patterns, str):
            patterns = [patterns]
        elif isinstance(patterns, list):
            patterns = [str(p) for p in patterns]
        elif patterns is not None:
            raise BadRequest("Malformed [index_patterns] value, should be a string or a list "
                             "of strings")
        if not patterns:
            raise EngineError("Validation Failed: 1: index patterns are missing;", status=400,
                              error_type="action_request_validation_exception")
        if "order" in body:
            order = _integer(body["order"], "order")
        version = body.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise BadRequest("Malformed [version] value, should be an integer")
        settings = body.get("settings") or {}
        if not isinstance(settings, dict):
            raise BadRequest("Malformed [settings] section, should include an inner object")
        mappings = body.get("mappings") or {}
        if not isinstance(mappings, dict):
            raise MapperParsingError("Failed to parse mapping: mappings must be an object")
        aliases = body.get("aliases") or {}
        if not isinstance(aliases, dict):
            raise BadRequest("Malformed [aliases] section, should include an inner object")
        flat = index_settings.validate(index_settings.flatten(settings))
        problems = _name_problems(name) + [p for pattern in patterns
                                           for p in _pattern_problems(pattern)]
        if "index.hidden" in flat and any(p.strip("*") == "" for p in patterns):
            problems.append("global templates may not specify the setting index.hidden")
        if problems:
            raise _invalid(name, problems)
        if list(mappings) == ["_doc"]:
            raise BadRequest("The mapping definition cannot be nested under a type [_doc] "
                             "unless include_type_name is set to true.")
        if mappings:
            Mapping(copy.deepcopy(mappings))
        for alias in aliases:
            if alias in patterns:
                raise BadRequest(f"alias [{alias}] cannot be the same as any pattern in "
                                 f"[{', '.join(patterns)}]")
        template: dict[str, Any] = {"order": order, "index_patterns": patterns,
                                    "settings": flat, "mappings": mappings,
                                    "aliases": {a: _alias_spec(a, s) for a, s in aliases.items()}}
        if version is not None:
            template["version"] = version
        return template

    def get(self, names: str | None, flat_settings: bool = False) -> dict[str, Any]:
        """`GET _template[/{name}]`: the templates a comma list of names and `*` patterns
        matches (all without one), by name."""
        patterns = [n for n in (names or "").split(",") if n] or ["*"]
        out = {}
        for name, template in sorted(self._snapshot().items()):
            if not any(_simple_match(p, name) for p in patterns):
                continue
            shown = {"order": template["order"]}
            if "version" in template:
                shown["version"] = template["version"]
            settings = template["settings"]
            shown.update({"index_patterns": template["index_patterns"],
                          "settings": settings if flat_settings else index_settings.nest(settings),
                          "mappings": template["mappings"], "aliases": template["aliases"]})
            out[name] = shown
        return out

    def delete(self, name: str) -> None:
        """`DELETE _template/{name}`: the templates `name` (a `*` pattern allowed) matches; a
        name matching none is a 404 unless it is the match-all pattern."""
        with self._changing() as templates:
            matched = [t for t in templates if _simple_match(name, t)]
            if not matched:
                if name.strip("*") == "" or name == "_all":
                    return
                raise IndexTemplateMissing(name)
            for template in matched:
                del templates[template]

    def matching(self, index: str, hidden: bool | None) -> list[tuple[str, dict[str, Any]]]:
        """`findV1Templates`: the templates whose patterns match `index`, highest `order`
        first. A hidden index takes no match-all (`*`) template."""
        def global_(template: dict[str, Any]) -> bool:
            return any(p.strip("*") == "" for p in template["index_patterns"])

        found = [(name, t) for name, t in self._snapshot().items()
                 if any(_simple_match(p, index) for p in t["index_patterns"])
                 and not (hidden and global_(t))]
        found.sort(key=lambda item: -item[1]["order"])
        if hidden is None:
            hiding = next((t["settings"]["index.hidden"] for _, t in found
                           if "index.hidden" in t["settings"]), None)
            if hiding == "true":
                found = [(name, t) for name, t in found if not global_(t)]
        return found

    def setting(self, index: str, name: str) -> Any:
        """The setting `index.{name}` an index created as `index` would take from the
        templates (the highest `order` that sets it), or None: how a write to an index that
        does not exist yet finds its default and final pipelines."""
        return next((t["settings"][f"index.{name}"] for _, t in self.matching(index, None)
                     if f"index.{name}" in t["settings"]), None)

    def apply(self, index: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
        """The create-index body of `index` with the matching templates applied: settings of
        higher `order` override lower ones, mappings and aliases of higher `order` win over
        lower ones, and the request's own settings, mappings and aliases win over all;
        `{index}` in a template alias name becomes the index name."""
        body = body or {}
        if not isinstance(body.get("settings") or {}, dict):
            return body  # refused by index creation, as it stands
        request_settings = index_settings.flatten(body.get("settings") or {})
        hidden = None
        if "index.hidden" in request_settings:
            hidden = str(request_settings["index.hidden"]).lower() == "true"
        templates = self.matching(index, hidden)
        if not templates:
            return body or None
        if len(templates) > 1:
            warn(f"index [{index}] matches multiple legacy templates "
                 f"[{', '.join(sorted(name for name, _ in templates))}], composable templates "
                 f"will only match a single template")
        settings: dict[str, Any] = {}
        for _, template in reversed(templates):
            settings.update(template["settings"])
        settings.update(request_settings)
        mappings = body.get("mappings") or {}
        aliases = dict(body.get("aliases") or {})
        for _, template in templates:
            if template["mappings"]:
                mappings = _merge_defaults(mappings, template["mappings"]) if mappings else \
                    copy.deepcopy(template["mappings"])
            for alias, spec in template["aliases"].items():
                aliases.setdefault(alias.replace("{index}", index), copy.deepcopy(spec))
        return {**body, "settings": settings, "mappings": mappings, "aliases": aliases}


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"Failed to parse value [{value}] for [{name}]")
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise BadRequest(f"Failed to parse value [{value}] for [{name}]") from err


def _name_problems(name: str) -> list[str]:
    """`MetadataIndexTemplateService.validate`'s checks of a template name."""
    checks = ((" " in name, "name must not contain a space"),
              ("," in name, "name must not contain a ','"),
              ("#" in name, "name must not contain a '#'"),
              ("*" in name, "name must not contain a '*'"),
              (name.startswith("_"), "name must not start with '_'"),
              (name.lower() != name, "name must be lower cased"))
    return [message for failed, message in checks if failed]


def _pattern_problems(pattern: str) -> list[str]:
    """Its checks of one index pattern."""
    checks = ((" " in pattern, "must not contain a space"),
              ("," in pattern, "must not contain a ','"),
              ("#" in pattern, "must not contain a '#'"),
              (":" in pattern, "must not contain a ':'"),
              (pattern.startswith("_"), "must not start with '_'"))
    problems = [f"index_patterns [{pattern}] {message}" for failed, message in checks if failed]
    if any(c in pattern for c in _INVALID_PATTERN_CHARS):
        problems.append(f"index_pattern [{pattern}] must not contain the following characters "
                        f"[\\, /, ?, \", <, >, |,  , ,]")
    return problems
