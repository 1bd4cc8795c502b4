"""Processors that cut one text field into several: csv, dissect, kv."""

from __future__ import annotations

import re
from typing import Any

from es_rag.engine.errors import BadRequest
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument
from es_rag.engine.ingest.processors.base import Processor
from es_rag.engine.ingest.processors.strings import java_regex

_CSV_BLANKS = " \t"


def _single_char(config: ProcessorConfig, name: str, default: str, example: str) -> str:
    value = config.read_string(name, default)
    if len(value) != 1:
        raise config.error(name, f"{name} has to be single character like {example}")
    return value


class Csv(Processor):
    """Elasticsearch's `CsvProcessor`: one line of CSV into `target_fields`, quotes doubled to
    escape them, blanks around values dropped with `trim`, empty values skipped unless
    `empty_value` is set."""

    type = "csv"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_string("field")
        self.targets = config.read_strings("target_fields")
        if not self.targets:
            raise config.error("target_fields", "target fields list can't be empty")
        self.separator = _single_char(config, "separator", ",", ", or ;")
        self.quote = _single_char(config, "quote", '"', "\" or '")
        self.trim = config.read_bool("trim", False)
        self.ignore_missing = config.read_bool("ignore_missing", False)
        self.empty_value = config.read("empty_value", None)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        line = doc.get_string(self.field, self.ignore_missing)
        if line is None:
            if self.ignore_missing:
                return doc
            raise BadRequest(f"field [{self.field}] is null, cannot process it.")
        for target, value in zip(self.targets, self.values(line), strict=False):
            if value:
                doc.set(target, value)
            elif self.empty_value is not None:
                doc.set(target, self.empty_value)
        return doc

    def values(self, line: str) -> list[str]:
        """The fields of `line`, as many as there are targets (fewer if the line is short)."""
        out: list[str] = []
        i, n = 0, len(line)
        while len(out) < len(self.targets) and i < n:  # nothing after a final separator
            while i < n and line[i] in _CSV_BLANKS and self.trim:
                i += 1
            start = i
            while i < n and line[i] in _CSV_BLANKS and line[i] != self.separator:
                i += 1
            if i < n and line[i] == self.quote:
                value, i = self._quoted(line, i + 1)
            else:
                i = start
                value, i = self._unquoted(line, i)
            out.append(value)
            if i >= n:
                break
            i += 1  # the separator
        return out

    def _unquoted(self, line: str, i: int) -> tuple[str, int]:
        start = i
        while i < len(line) and line[i] != self.separator:
            if line[i] in ("\n", "\r", self.quote):
                raise BadRequest(f"Illegal character inside unquoted field at {i}")
            i += 1
        value = line[start:i]
        return (value.rstrip(_CSV_BLANKS) if self.trim else value), i

    def _quoted(self, line: str, i: int) -> tuple[str, int]:
        parts: list[str] = []
        while True:
            end = line.find(self.quote, i)
            if end == -1:
                raise BadRequest("Unmatched quote")
            parts.append(line[i:end])
            if end + 1 < len(line) and line[end + 1] == self.quote:
                parts.append(self.quote)
                i = end + 2
                continue
            i = end + 1
            break
        while i < len(line) and line[i] != self.separator:
            if line[i] not in _CSV_BLANKS:
                raise BadRequest(f"character '{line[i]}' after quoted field at {i}")
            i += 1
        return "".join(parts), i


# -- dissect ----------------------------------------------------------------------------------

_DISSECT_KEY = re.compile(r"%\{([^}]*?)\}")
_APPEND_ORDER = re.compile(r"^(.*?)/(\d+)$")


class _Key:
    """One `%{…}` of a dissect pattern with its modifier (`+` append, `?` named skip,
    `*`/`&` reference name/value, `->` right padding, `/n` append order)."""

    def __init__(self, text: str, pattern: str) -> None:
        self.pad = text.endswith("->")
        name = text[:-2] if self.pad else text
        self.modifier = name[0] if name[:1] in ("+", "?", "*", "&") else ""
        name = name[len(self.modifier):]
        self.order = 0
        if self.modifier == "+":
            ordered = _APPEND_ORDER.match(name)
            if ordered:
                name, self.order = ordered.group(1), int(ordered.group(2))
        self.name = name
        self.skip = self.modifier == "?" or not name
        if self.modifier == "" and "/" in name:
            raise ValueError(f"Unable to parse pattern: {pattern} Reason: Invalid key [{text}]")


class DissectPattern:
    """A dissect pattern: literal delimiters between keys, matched left to right."""

    def __init__(self, pattern: str, append_separator: str) -> None:
        self.pattern = pattern
        self.append_separator = append_separator
        matches = list(_DISSECT_KEY.finditer(pattern))
        if not matches:
            raise ValueError(f"Unable to parse pattern: {pattern} Reason: Unable to find any "
                             "keys or delimiters.")
        self.leading = pattern[:matches[0].start()]
        self.keys: list[tuple[_Key, str]] = []
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(pattern)
            self.keys.append((_Key(match.group(1), pattern), pattern[match.end():end]))
        for name in {k.name for k, _ in self.keys if k.modifier in ("*", "&")}:
            pair = [k for k, _ in self.keys if k.modifier in ("*", "&") and k.name == name]
            if sorted(k.modifier for k in pair) != ["&", "*"]:
                raise ValueError(f"Unable to parse pattern: {pattern} Reason: Found invalid "
                                 f"key/reference associations: '{','.join(k.name for k in pair)}'"
                                 " Please ensure each '*<key>' is matched with a matching "
                                 "'&<key>")
        # a key named like an appended (`+`) key appends too; other repeats keep the last value
        self.appended = {k.name for k, _ in self.keys if k.modifier == "+"}

    def match(self, text: str) -> dict[str, str] | None:
        if not text.startswith(self.leading):
            return None
        position = len(self.leading)
        found: list[tuple[_Key, str]] = []
        for index, (key, delimiter) in enumerate(self.keys):
            last = index == len(self.keys) - 1
            if not delimiter:
                if not last:
                    return None  # two keys with nothing between them cannot be told apart
                found.append((key, text[position:]))
                position = len(text)
                break
            end = text.find(delimiter, position)
            if end == -1:
                return None
            found.append((key, text[position:end]))
            position = end + len(delimiter)
            if key.pad:
                while text.startswith(delimiter, position):
                    position += len(delimiter)
        return self._results(found)  # text after the last delimiter is not matched

    def _results(self, found: list[tuple[_Key, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        appends: dict[str, list[tuple[int, int, str]]] = {}
        names: dict[str, str] = {}
        values: dict[str, str] = {}
        for position, (key, value) in enumerate(found):
            if key.modifier == "*":
                names[key.name] = value
            elif key.modifier == "&":
                values[key.name] = value
            elif key.skip:
                continue
            elif key.name in self.appended:
                appends.setdefault(key.name, []).append((key.order, position, value))
            else:
                out[key.name] = value
        for name, parts in appends.items():
            out[name] = self.append_separator.join(v for _, _, v in sorted(parts))
        for reference, name in names.items():
            out[name] = values.get(reference, "")
        return out


class Dissect(Processor):
    type = "dissect"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_string("field")
        pattern = config.read_string("pattern")
        separator = config.read_string("append_separator", "")
        self.ignore_missing = config.read_bool("ignore_missing", False)
        try:
            self.dissect = DissectPattern(pattern, separator)
        except ValueError as exc:
            raise config.error("pattern", str(exc)) from None

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        text = doc.get_string(self.field, self.ignore_missing)
        if text is None:
            if self.ignore_missing:
                return doc
            raise BadRequest(f"field [{self.field}] is null, cannot process it.")
        results = self.dissect.match(text)
        if results is None:
            raise BadRequest(f"Unable to find match for dissect pattern: "
                             f"{self.dissect.pattern} against source: {text}",
                             error_type="dissect_exception")
        for name, value in results.items():
            doc.set(name, value)
        return doc


# -- kv ---------------------------------------------------------------------------------------

_BRACKETS = re.compile(r"(^[(\[<\"'])|([\])>\"']$)")


class KeyValue(Processor):
    """Elasticsearch's `KeyValueProcessor`: `a=1 b=2` into fields `a` and `b`."""

    type = "kv"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_template("field")
        self.target_field = config.read_template("target_field", None)
        self.field_split = java_regex(config, "field_split", config.read_string("field_split"))
        self.value_split_text = config.read_string("value_split")
        self.value_split = java_regex(config, "value_split", self.value_split_text)
        self.include = config.read_strings("include_keys", None)
        self.exclude = config.read_strings("exclude_keys", None)
        self.prefix = config.read_string("prefix", "")
        self.trim_key = config.read_string("trim_key", None)
        self.trim_value = config.read_string("trim_value", None)
        self.strip_brackets = config.read_bool("strip_brackets", False)
        self.ignore_missing = config.read_bool("ignore_missing", False)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        field = doc.render(self.field)
        if not field or not doc.has(field):
            if self.ignore_missing:
                return doc
            raise BadRequest(f"field [{field}] doesn't exist")
        text = doc.get_string(field)
        if text is None:
            if self.ignore_missing:
                return doc
            raise BadRequest(f"field [{field}] is null, cannot extract key-value pairs.")
        target = None if self.target_field is None else doc.render(self.target_field)
        pairs = self.field_split.split(text)
        while pairs and pairs[-1] == "":
            pairs.pop()
        for pair in pairs:
            parts = self.value_split.split(pair, maxsplit=1)
            if len(parts) < 2:
                raise BadRequest(f"field [{field}] does not contain value_split "
                                 f"[{self.value_split_text}]")
            key, value = self._trim(parts[0], self.trim_key), parts[1]
            if self.strip_brackets:
                value = _BRACKETS.sub("", value)
            value = self._trim(value, self.trim_value)
            if (self.include is not None and key not in self.include) or \
                    (self.exclude is not None and key in self.exclude):
                continue
            name = self.prefix + key
            path = name if target is None else f"{target}.{name}"
            if doc.has(path):  # a key seen again collects its values in a list
                doc.append(path, value)
            else:
                doc.set(path, value)
        return doc

    @staticmethod
    def _trim(text: str, chars: str | None) -> str:
        return text if not chars else text.strip(chars)


PROCESSORS: list[type[Processor]] = [Csv, Dissect, KeyValue]
