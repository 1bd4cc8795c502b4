"""Date processors: `date` parses a field with ISO8601, UNIX, UNIX_MS, TAI64N or Java patterns;
`date_index_name` routes a document to a date math index name built from a field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from es_rag.engine.errors import BadRequest
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument
from es_rag.engine.ingest.processors.base import Processor
from es_rag.engine.java_time import JavaDateFormat, parse_iso8601, zone
from es_rag.engine.mustache import to_java_string

DEFAULT_OUTPUT_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_NAMES = {"iso8601", "date_optional_time", "strict_date_optional_time", "date_time",
              "strict_date_time", "strict_date_optional_time_nanos"}
_LOCALES = {"", "root", "en", "english", "en-us", "en_us", "en-gb", "en_gb", "us", "uk"}

Parser = Callable[[str, tzinfo], datetime]


def _unix(text: str, tz: tzinfo) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(float(text) * 1000))


def _unix_ms(text: str, tz: tzinfo) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(text))


def _tai64n(text: str, tz: tzinfo) -> datetime:
    digits = text[1:] if text.startswith("@") else text
    seconds = int(digits[1:16], 16) - 10
    nanos = int(digits[16:24], 16)
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def date_parser(fmt: str) -> Parser:
    """A parser for one entry of `formats`; raises `ValueError` for an unusable pattern."""
    named = fmt.lower()
    if fmt == "ISO8601" or named in _ISO_NAMES:
        return parse_iso8601
    if fmt == "UNIX" or named == "epoch_second":
        return _unix
    if fmt == "UNIX_MS" or named == "epoch_millis":
        return _unix_ms
    if fmt == "TAI64N":
        return _tai64n
    return JavaDateFormat(fmt).parse


class Date(Processor):
    type = "date"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_template("field")
        self.target_field = config.read_template("target_field", "@timestamp")
        formats = config.read_list("formats")
        try:
            self.parsers = [date_parser(str(fmt)) for fmt in formats]
        except ValueError as exc:
            raise config.error("formats", str(exc)) from exc
        self.timezone = config.read_template("timezone", None)
        locale = config.read_template("locale", None)
        if isinstance(locale, str) and locale.lower() not in _LOCALES:
            raise config.error("locale", f"locale [{locale}] is not supported by the embedded "
                                         "engine (only English date names are)")
        output_format = config.read_string("output_format", DEFAULT_OUTPUT_FORMAT)
        try:
            self.output = JavaDateFormat(output_format)
        except ValueError as exc:
            raise config.error("output_format", f"invalid output format [{output_format}]") \
                from exc

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        value = doc.get(doc.render(self.field))
        text = to_java_string(value) if value is not None else None
        try:
            tz = UTC if self.timezone is None else zone(doc.render(self.timezone))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        moment = None
        last_error = "no format given"
        for parser in self.parsers:
            try:
                moment = parser(text or "", tz)
                break
            except (ValueError, OverflowError) as exc:
                last_error = str(exc)
        if moment is None:
            raise BadRequest(f"unable to parse date [{'null' if text is None else text}]",
                             caused_by={"type": "illegal_argument_exception",
                                        "reason": last_error})
        doc.set(doc.render(self.target_field), self.output.format(moment.astimezone(tz)))
        return doc


_ROUNDINGS = ("y", "M", "w", "d", "h", "m", "s")


class DateIndexName(Processor):
    """Elasticsearch's `DateIndexNameProcessor`: `_index` becomes
    `<prefix{date||/rounding{index_name_format|timezone}}>`, resolved when the write happens."""

    type = "date_index_name"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_string("field")
        self.prefix = config.read_template("index_name_prefix", "")
        self.rounding = config.read_template("date_rounding")
        self.name_format = config.read_template("index_name_format", "yyyy-MM-dd")
        formats = config.read_list("date_formats", ["yyyy-MM-dd'T'HH:mm:ss.SSSXX"])
        try:
            self.parsers = [date_parser(str(fmt)) for fmt in formats]
        except ValueError as exc:
            raise config.error("date_formats", str(exc)) from exc
        self.timezone = config.read_template("timezone", "UTC")
        locale = config.read_template("locale", None)
        if isinstance(locale, str) and locale.lower() not in _LOCALES:
            raise config.error("locale", f"locale [{locale}] is not supported by the embedded "
                                         "engine (only English date names are)")

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        value = doc.get(self.field)
        text = to_java_string(value) if value is not None else "null"
        timezone = doc.render(self.timezone)
        try:
            tz = zone(timezone)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        moment = None
        last_error = "no format given"
        for parser in self.parsers:
            try:
                moment = parser(text, tz)
                break
            except (ValueError, OverflowError) as exc:
                last_error = str(exc)
        if moment is None:
            raise BadRequest(f"unable to parse date [{text}]",
                             caused_by={"type": "illegal_argument_exception",
                                        "reason": last_error})
        rounding = doc.render(self.rounding)
        if rounding not in _ROUNDINGS:
            raise BadRequest(f"unsupported date rounding [{rounding}]")
        name_format = doc.render(self.name_format)
        try:
            stamp = JavaDateFormat(name_format).format(moment.astimezone(tz))
        except ValueError as exc:
            raise BadRequest(f"invalid index name format [{name_format}]: {exc}") from None
        doc.set("_index", f"<{doc.render(self.prefix)}{{{stamp}||/{rounding}"
                          f"{{{name_format}|{timezone}}}}}>")
        return doc

PROCESSORS: list[type[Processor]] = [Date, DateIndexName]
