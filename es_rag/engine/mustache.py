"""Elasticsearch's flavour of mustache: JSON escaping, `toJson`, `join` and `url` functions.

Templates are tokenized by `chevron`; rendering is done here because Elasticsearch differs from
standard mustache in escaping, in how values are turned into text (as Java's `toString` would)
and in its three built-in functions.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from chevron.tokenizer import ChevronError, tokenize

from es_rag.engine.errors import EngineError
from es_rag.engine.limits import current as current_limits

JSON_MEDIA_TYPE = "application/json"
PLAIN_TEXT_MEDIA_TYPE = "text/plain"
URL_ENCODED_MEDIA_TYPE = "application/x-www-form-urlencoded"
MEDIA_TYPES = (JSON_MEDIA_TYPE, PLAIN_TEXT_MEDIA_TYPE, URL_ENCODED_MEDIA_TYPE)

_JOIN_OPEN = re.compile(r"\{\{\s*#\s*join(?:\s+delimiter\s*=\s*'([^']*)')?\s*\}\}")
_JOIN_CLOSE = re.compile(r"\{\{\s*/\s*join(?:\s+delimiter\s*=\s*'[^']*')?\s*\}\}")
_FUNCTIONS = ("tojson", "join", "url")


class MustacheError(EngineError):
    """A template that does not compile (Elasticsearch's `script_exception` for mustache)."""

    status = 400
    error_type = "script_exception"


def render(template: str, params: dict[str, Any], *, media_type: str = JSON_MEDIA_TYPE) -> str:
    """Render `template` with `params` the way Elasticsearch's mustache engine does.

    `{{x}}` is escaped for `media_type` (JSON string escaping by default, none for
    `text/plain`, URL encoding for `application/x-www-form-urlencoded`); `{{{x}}}` and `{{& x}}`
    are never escaped. Raises `MustacheError` when the template does not compile.
    """
    return compile_template(template, media_type=media_type).render(params)


def compile_template(template: str, *, media_type: str = JSON_MEDIA_TYPE) -> Template:
    """Parse `template` once (cached); raises `MustacheError` when it does not compile."""
    if media_type not in MEDIA_TYPES:
        raise MustacheError(f"unsupported media type [{media_type}], expected one of "
                            f"{list(MEDIA_TYPES)}", error_type="illegal_argument_exception")
    limits = current_limits()
    size = len(template.encode())
    if size > limits.script_max_size:
        raise MustacheError(f"exceeded max allowed inline script size in bytes "
                            f"[{limits.script_max_size}] with size [{size}] for script "
                            f"[{template}]", error_type="illegal_argument_exception")
    return _compile(template, media_type, limits.mustache_max_depth)


def to_java_string(value: Any) -> str:
    """Text of a JSON value as Java's `toString` gives it (what mustache prints for `{{x}}`)."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_java_item(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_item(v)}" for k, v in value.items()) + "}"
    return str(value)


def _java_item(value: Any) -> str:
    return "null" if value is None else to_java_string(value)


def _java_double(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{len(text) - 1 + int(exponent)}"


def _escape(text: str, media_type: str) -> str:
    if media_type == JSON_MEDIA_TYPE:
        return json.dumps(text, ensure_ascii=False)[1:-1]
    if media_type == URL_ENCODED_MEDIA_TYPE:
        return url_encode(text)
    return text


def url_encode(text: str) -> str:
    """Java's `URLEncoder.encode(text, UTF_8)`: spaces become `+`, only `a-zA-Z0-9.-*_` kept."""
    return urllib.parse.quote_plus(text, safe="*").replace("~", "%7E")


@dataclass
class _Section:
    key: str
    inverted: bool
    children: list[Any] = field(default_factory=list)
    delimiter: str | None = None


@dataclass(frozen=True)
class _Variable:
    key: str
    escaped: bool


class Template:
    """A compiled template; `render(params)` is thread-safe."""

    def __init__(self, nodes: list[Any], media_type: str) -> None:
        self._nodes = nodes
        self._media_type = media_type

    def render(self, params: dict[str, Any]) -> str:
        """Render with `params` as the root context; output beyond `engine.mustache.max_output`
        characters is refused (sections over lists multiply it)."""
        out = _Output(current_limits().mustache_max_output)
        self._render(self._nodes, [params], out)
        return "".join(out)

    def _render(self, nodes: list[Any], scopes: list[Any], out: _Output) -> None:
        for node in nodes:
            if isinstance(node, str):
                out.append(node)
            elif isinstance(node, _Variable):
                text = to_java_string(_lookup(node.key, scopes))
                out.append(_escape(text, self._media_type) if node.escaped else text)
            elif node.key.lower() in _FUNCTIONS and not node.inverted:
                out.append(self._function(node, scopes))
            else:
                self._section(node, scopes, out)

    def _section(self, node: _Section, scopes: list[Any], out: _Output) -> None:
        value = _lookup(node.key, scopes)
        if node.inverted:
            if _falsy(value):
                self._render(node.children, scopes, out)
        elif _falsy(value):
            return
        elif isinstance(value, list):
            for item in value:
                out.step()
                self._render(node.children, [*scopes, item], out)
        else:
            self._render(node.children, [*scopes, value], out)

    def _function(self, node: _Section, scopes: list[Any]) -> str:
        function = node.key.lower()
        if function == "url":
            inner = _Output(current_limits().mustache_max_output)
            self._render(node.children, scopes, inner)
            return url_encode("".join(inner))
        identifier = _identifier(node)
        value = _lookup(identifier.strip(), scopes)
        if function == "tojson":
            if isinstance(value, list | dict):
                return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            return to_java_string(value)
        if not isinstance(value, list):
            # Elasticsearch's join then prints the section's text: the identifier itself
            return identifier
        delimiter = "," if node.delimiter is None else node.delimiter
        return delimiter.join(to_java_string(v) for v in value)


class _Output(list[str]):
    """The pieces of a render, refusing to grow beyond `limit` characters."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.length = 0

    def append(self, text: str) -> None:
        self.step(len(text))
        super().append(text)

    def step(self, cost: int = 1) -> None:
        """Count characters written, and one per section iteration (which may write none)."""
        self.length += cost
        if self.length > self.limit:
            raise MustacheError(f"the rendered template is longer than [{self.limit}] "
                                f"characters, the limit set in [engine.mustache.max_output]")


def _identifier(node: _Section) -> str:
    if len(node.children) != 1 or not isinstance(node.children[0], str):
        raise ChevronError(f"Mustache function [{node.key}] must contain one and only one "
                           "identifier")
    return node.children[0]


def _falsy(value: Any) -> bool:
    return value is None or value is False or value == "" or (isinstance(value, list) and not value)


def _lookup(key: str, scopes: list[Any]) -> Any:
    if key == ".":
        return scopes[-1]
    first, *rest = key.split(".")
    for scope in reversed(scopes):
        if isinstance(scope, dict) and first in scope:
            value = scope[first]
            break
    else:
        return None
    for part in rest:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


@lru_cache(maxsize=1024)
def _compile(template: str, media_type: str, max_depth: int) -> Template:
    delimiters = [m.group(1) for m in _JOIN_OPEN.finditer(template)]
    source = _JOIN_CLOSE.sub("{{/join}}", _JOIN_OPEN.sub("{{#join}}", template))
    root: list[Any] = []
    stack: list[_Section] = []
    joins = iter(delimiters)
    try:
        for kind, key in tokenize(source):
            target = stack[-1].children if stack else root
            if kind == "literal":
                target.append(key)
            elif kind in ("variable", "no escape"):
                target.append(_Variable(key, kind == "variable"))
            elif kind in ("section", "inverted section"):
                section = _Section(key, kind == "inverted section")
                if key == "join" and kind == "section":
                    section.delimiter = next(joins, None)
                target.append(section)
                stack.append(section)
                if len(stack) > max_depth:
                    raise ChevronError(f"sections are nested deeper than [{max_depth}], the "
                                       f"limit set in [engine.mustache.max_depth]")
            elif kind == "end":
                section = stack.pop()
                if section.key.lower() in ("tojson", "join") and not section.inverted:
                    _identifier(section)
            elif kind == "partial":
                raise ChevronError(f"partials such as [{{{{> {key}}}}}] are not supported")
    except ChevronError as exc:
        raise MustacheError("the template does not compile: " + " ".join(str(exc).split()),
                            script=template, lang="mustache") from exc
    return Template(root, media_type)
