"""String processors: lowercase, uppercase, trim, gsub, html_strip, urldecode, split, join."""

from __future__ import annotations

import html
import re
import string
import urllib.parse
from typing import Any

from es_rag.engine.errors import BadRequest
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument, java_type
from es_rag.engine.ingest.processors.base import FieldProcessor, Processor, StringFieldProcessor
from es_rag.engine.mustache import to_java_string

_JAVA_WHITESPACE = "".join(chr(code) for code in range(33))
# Elements Lucene's HTMLStripCharFilter turns into a line break (opening and closing tags).
_BLOCK_TAGS = ("address|article|aside|blockquote|body|br|caption|center|dd|dir|div|dl|dt|"
               "fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hgroup|"
               "hr|html|iframe|legend|li|main|menu|nav|noframes|noscript|ol|option|output|p|pre|"
               "section|select|table|tbody|td|textarea|tfoot|th|thead|title|tr|ul|video")
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<![^>]*>|<\?.*?\?>", re.DOTALL)
_BLOCK = re.compile(rf"</?(?:{_BLOCK_TAGS})\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_JAVA_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


class Lowercase(StringFieldProcessor):
    type = "lowercase"

    def transform(self, value: str) -> str:
        return value.lower()


class Uppercase(StringFieldProcessor):
    type = "uppercase"

    def transform(self, value: str) -> str:
        return value.upper()


class Trim(StringFieldProcessor):
    type = "trim"

    def transform(self, value: str) -> str:
        return value.strip(_JAVA_WHITESPACE)


class HtmlStrip(StringFieldProcessor):
    type = "html_strip"

    def transform(self, value: str) -> str:
        text = _SCRIPT.sub("", _COMMENT.sub("", value))
        text = _TAG.sub("", _BLOCK.sub("\n", text))
        return html.unescape(text)


class UrlDecode(StringFieldProcessor):
    """Java's `URLDecoder.decode(value, UTF-8)`: `%XX` escapes and `+` as a space."""

    type = "urldecode"

    def transform(self, value: str) -> str:
        for match in re.finditer(r"%(.{0,2})", value):
            digits = match.group(1)
            if len(digits) < 2:
                raise BadRequest("URLDecoder: Incomplete trailing escape (%) pattern")
            bad = next((i for i, c in enumerate(digits) if c not in string.hexdigits), None)
            if bad is not None:
                raise BadRequest("URLDecoder: Illegal hex characters in escape (%) pattern - "
                                 f"Error at index {bad} in: \"{digits}\"")
        return urllib.parse.unquote_plus(value, errors="replace")


class Gsub(StringFieldProcessor):
    type = "gsub"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        pattern = config.read_string("pattern")
        self.pattern = java_regex(config, "pattern", pattern)
        self.replacement = _java_replacement(config, config.read_string("replacement"),
                                             self.pattern)

    def transform(self, value: str) -> str:
        return self.pattern.sub(self.replacement, value)


class Split(FieldProcessor):
    type = "split"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.separator = java_regex(config, "separator", config.read_string("separator"))
        self.preserve_trailing = config.read_bool("preserve_trailing", False)

    def null_message(self, field: str) -> str:
        return f"field [{field}] is null, cannot split."

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        field = doc.render(self.field)
        value = doc.get_string(field, self.ignore_missing)
        if value is None:
            if self.ignore_missing:
                return doc
            raise BadRequest(self.null_message(field))
        parts = self.separator.split(value)
        if not self.preserve_trailing and len(parts) > 1:
            while parts and parts[-1] == "":
                parts.pop()
        doc.set(field if self.target_field is None else doc.render(self.target_field), parts)
        return doc


class Join(Processor):
    type = "join"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_template("field")
        self.separator = config.read_string("separator")
        self.target_field = config.read_template("target_field", None)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        field = doc.render(self.field)
        value = doc.get(field)
        if value is None:
            raise BadRequest(f"field [{field}] is null, cannot join.")
        if not isinstance(value, list):
            raise BadRequest(f"field [{field}] of type [{java_type(value)}] cannot be cast to "
                             "[java.util.List]")
        joined = self.separator.join("null" if v is None else to_java_string(v) for v in value)
        doc.set(field if self.target_field is None else doc.render(self.target_field), joined)
        return doc


def java_regex(config: ProcessorConfig, name: str, pattern: str) -> re.Pattern[str]:
    """Compile a Java regular expression (named groups `(?<n>…)` included)."""
    try:
        return re.compile(_JAVA_NAMED_GROUP.sub("(?P<", pattern))
    except re.error as exc:
        raise config.error(name, f"Invalid regex pattern [{pattern}]: {exc}") from exc


def _java_replacement(config: ProcessorConfig, replacement: str,
                      pattern: re.Pattern[str]) -> Any:
    """Turn a Java replacement (`$1`, `${name}`, `\\$`) into a function for `re.sub`."""
    parts: list[str | int] = []
    literal: list[str] = []
    i = 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement):
            literal.append(replacement[i + 1])
            i += 2
            continue
        if char == "$":
            match = re.match(r"\$(\d+|\{[A-Za-z][A-Za-z0-9]*\})", replacement[i:])
            if not match:
                raise config.error("replacement", f"Illegal group reference in [{replacement}]")
            parts.append("".join(literal))
            literal = []
            group = match.group(1)
            reference: str | int = int(group) if group.isdigit() else group[1:-1]
            if (isinstance(reference, int) and reference > pattern.groups) or (
                    isinstance(reference, str) and reference not in pattern.groupindex):
                raise config.error("replacement", f"No group {reference} in pattern "
                                                  f"[{pattern.pattern}]")
            parts.append(reference)
            i += match.end()
            continue
        literal.append(char)
        i += 1
    parts.append("".join(literal))

    def substitute(match: re.Match[str]) -> str:
        return "".join(part if i % 2 == 0 else (match.group(part) or "")  # type: ignore[arg-type]
                       for i, part in enumerate(parts))
    return substitute


PROCESSORS: list[type[Processor]] = [Lowercase, Uppercase, Trim, HtmlStrip, UrlDecode, Gsub, Split,
                                     Join]
