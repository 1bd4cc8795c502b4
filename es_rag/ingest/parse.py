"""Parse documents with Apache Tika (embedded, `iscc-tika`) into text, metadata, pages and headings.

Tika runs in a worker process, so a parse that hangs can be stopped: `TikaParser.parse` kills
the worker after `timeout` seconds and the next file gets a fresh one. Text and structure come
from Tika's XHTML output, so page and heading offsets point exactly into `ParsedDocument.text`
(which equals Tika's plain-text output).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tempfile
import zipfile
from bisect import bisect_right
from dataclasses import dataclass, field
from html.parser import HTMLParser
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from es_rag.errors import EsRagError

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_MAX_CHARS = 2_000_000
MAX_EXPANSION = 100
"""A zip-based file (DOCX, XLSX, EPUB, ...) whose parts expand to more than this many times its
size, and to more than `_BOMB_MARKUP` times the text limit, is refused as a decompression bomb,
before Tika opens it (Tika's own `SecureContentHandler` uses the same ratio)."""
_BOMB_MARKUP = 10

MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown", "text/x-web-markdown"})
_PAGE_CLASSES = frozenset({"page", "slide-content"})
_EMBEDDED_CLASSES = frozenset({"embedded", "package-entry"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_READ_SIZE = 1 << 16
_STARTUP_TIMEOUT = 120.0


class ParseError(EsRagError):
    """A file could not be parsed; the message says why, for the person who ran ingest."""


@dataclass(frozen=True)
class Heading:
    """A heading of the document: its level (1 = top), text, and offset into the parsed text."""

    level: int
    text: str
    start: int


@dataclass
class ParsedDocument:
    """Text and structure of one parsed file."""

    text: str
    mime_type: str
    """Tika's detected type, without parameters (`text/html`, `application/pdf`, …)."""
    title: str | None = None
    author: str | None = None
    created: str | None = None
    modified: str | None = None
    language: str | None = None
    """As declared by the document (HTML `lang`, Office/EPUB metadata); None when undeclared."""
    pages: list[int] = field(default_factory=list)
    """Offset in `text` where each page (PDF) or slide (PPTX) starts; empty when unknown."""
    headings: list[Heading] = field(default_factory=list)
    metadata: dict[str, list[str]] = field(default_factory=dict)
    """Tika's metadata as it gave it."""
    truncated: bool = False
    """True when the text was cut at the parser's `max_chars`."""

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding `offset`, or None when the format has no pages."""
        if not self.pages:
            return None
        return max(1, bisect_right(self.pages, offset))


class TikaParser:
    """Parses files one at a time with Tika in a worker process, enforcing limits per file.

    ```
    with TikaParser(timeout=30, max_bytes=50_000_000) as parser:
        doc = parser.parse(Path("report.pdf"))   # raises ParseError with a reason
    ```
    `max_bytes` refuses larger files before parsing; `max_chars` cuts the extracted text (the
    document is marked `truncated`); only regular files are opened, and a zip-based file that
    expands past `MAX_EXPANSION` times its size and far past `max_chars` is refused. The worker
    starts on first use and after a timeout or crash.
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_chars: int = DEFAULT_MAX_CHARS) -> None:
        if timeout <= 0 or max_bytes <= 0 or max_chars <= 0:
            raise ValueError("timeout, max_bytes and max_chars must be positive")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_chars = max_chars
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: _WorkerPipe | None = None

    def __enter__(self) -> TikaParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def parse(self, path: Path) -> ParsedDocument:
        """Parse one file; raises `ParseError` naming why it could not be parsed."""
        try:
            info = path.stat()
        except FileNotFoundError:
            raise ParseError("the file disappeared before it could be parsed") from None
        except OSError as exc:
            raise ParseError(f"cannot read the file: {exc.strerror}") from None
        size = info.st_size
        if not stat.S_ISREG(info.st_mode):
            raise ParseError("not a regular file (a FIFO, device, socket or folder)")
        if size == 0:
            raise ParseError("the file is empty (0 bytes)")
        if size > self.max_bytes:
            raise ParseError(f"the file is {_human_size(size)}, over the size limit of "
                             f"{_human_size(self.max_bytes)}")
        self._refuse_bomb(path, size)
        conn = self._worker()
        try:
            conn.send((str(path), self.max_chars))
        except OSError:
            self._stop_worker()
            raise ParseError("the parser process had stopped; this file was not parsed") from None
        if not conn.poll(self.timeout):
            self._stop_worker()
            raise ParseError(f"parsing took longer than the {self.timeout:g} s limit "
                             "and was stopped")
        try:
            status, payload = conn.recv()
        except (EOFError, OSError):
            code = self._process.wait() if self._process else None
            self._stop_worker()
            raise ParseError(f"the parser crashed on this file (exit code {code})") from None
        if status == "error":
            raise ParseError(payload)
        return payload

    def _refuse_bomb(self, path: Path, size: int) -> None:
        """Refuse a zip-based file whose parts declare an expansion no document has."""
        try:
            with zipfile.ZipFile(path) as archive:
                expanded = sum(part.file_size for part in archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return  # not a zip: Tika decides, and the text limit holds
        if expanded > MAX_EXPANSION * size and expanded > _BOMB_MARKUP * self.max_chars:
            raise ParseError(f"refused as a decompression bomb: its {_human_size(size)} expand "
                             f"to {_human_size(expanded)}, over {MAX_EXPANSION} times its size "
                             f"(text limit {self.max_chars:,} characters)")

    def close(self) -> None:
        """Stop the worker process."""
        if self._conn is not None and self._process is not None:
            try:
                self._conn.send(None)
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass  # killed below
        self._stop_worker()

    def _worker(self) -> _WorkerPipe:
        if self._conn is None or self._process is None or self._process.poll() is not None:
            self._stop_worker()
            to_child_r, to_child_w = os.pipe()
            from_child_r, from_child_w = os.pipe()
            # A fresh interpreter rather than multiprocessing: nothing of the caller's program
            # (its __main__, torch threads, open sockets) is re-run or inherited.
            code = f"from es_rag.ingest.parse import _serve; _serve({to_child_r}, {from_child_w})"
            process = subprocess.Popen(
                [sys.executable, "-c", code], pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self._process = process
            os.close(to_child_r)
            os.close(from_child_w)
            self._conn = _WorkerPipe(Connection(from_child_r, writable=False),
                                     Connection(to_child_w, readable=False))
            # Starting takes a second or more on a busy machine: not counted in a file's timeout.
            started = self._conn.poll(_STARTUP_TIMEOUT)
            try:
                if started and self._conn.recv() == ("ready", None):
                    if process.stderr is not None:  # from now on the worker keeps its own
                        process.stderr.close()
                    return self._conn
            except (EOFError, OSError):
                pass
            self._stop_worker()
            said = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
            last = [line for line in said.splitlines() if line.strip()][-1:] or ["no message"]
            raise ParseError(f"the Tika worker process did not start (exit code "
                             f"{process.returncode}): {last[0].strip()}")
        return self._conn

    def _stop_worker(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._conn is not None:
            self._conn.close()
        self._process = None
        self._conn = None


class _WorkerPipe:
    """The two one-way connections to the worker, used like one duplex connection."""

    def __init__(self, incoming: Connection, outgoing: Connection) -> None:
        self.incoming = incoming
        self.outgoing = outgoing

    def send(self, message: object) -> None:
        self.outgoing.send(message)

    def poll(self, timeout: float) -> bool:
        return self.incoming.poll(timeout)

    def recv(self) -> Any:
        return self.incoming.recv()

    def close(self) -> None:
        self.incoming.close()
        self.outgoing.close()


def parse_in_process(path: Path, *, max_chars: int = DEFAULT_MAX_CHARS) -> ParsedDocument:
    """Parse one file with Tika in this process: no timeout, no size check (see `TikaParser`)."""
    import iscc_tika

    extractor = iscc_tika.Extractor().set_xml_output(True)
    try:
        reader, metadata = extractor.extract_file(str(path))
        parts: list[bytes] = []
        total = 0
        truncated = False
        while block := reader.read(_READ_SIZE):
            parts.append(bytes(block))  # the reader reuses its buffer
            total += len(block)
            if total > 4 * max_chars + _READ_SIZE:  # markup included; text is cut exactly below
                truncated = True
                break
    except OSError as exc:  # Tika's exceptions arrive as "JNI error: Java exception was thrown"
        raise ParseError(f"Tika could not parse the file: {exc}") from None
    except TypeError as exc:  # iscc-tika reports I/O errors this way
        raise ParseError(f"cannot read the file: {exc}") from None
    return document_from_xhtml(b"".join(parts).decode("utf-8", errors="ignore"), metadata,
                               max_chars=max_chars, truncated=truncated)


def document_from_xhtml(xhtml: str, metadata: dict[str, Any], *,
                        max_chars: int = DEFAULT_MAX_CHARS,
                        truncated: bool = False) -> ParsedDocument:
    """Build a ParsedDocument from Tika's XHTML output and metadata.

    Raises `ParseError` when the document holds no text at all.
    """
    reader = _XhtmlText()
    reader.feed(xhtml)
    reader.close()
    text = "".join(reader.pieces)
    if len(text) > max_chars:
        text = text[:max_chars]
        truncated = True
    meta = {key: [str(v) for v in value] if isinstance(value, list) else [str(value)]
            for key, value in metadata.items()}
    mime_type = (_first(meta, "Content-Type") or "application/octet-stream").split(";")[0].strip()
    if not text.strip():
        if _first(meta, "pdf:encrypted") == "true":
            raise ParseError("the document is encrypted (password-protected); its text cannot "
                             "be read without the password")
        if _first(meta, "xmpTPg:NPages") == "0":
            raise ParseError(f"no page could be read from this {mime_type} file "
                             "(it is damaged or truncated)")
        raise ParseError(f"no text could be extracted from this {mime_type} file (it is "
                         "damaged, or an image-only scan that would need OCR)")
    headings = [h for h in reader.headings if h.start < len(text)]
    if mime_type in MARKDOWN_TYPES and not headings:
        headings = markdown_headings(text)
    title = _first(meta, "dc:title", "title")
    if not title:
        top = [h for h in headings if h.level == 1]
        title = top[0].text if top else None
    return ParsedDocument(
        text=text,
        mime_type=mime_type,
        title=title,
        author=_first(meta, "dc:creator", "meta:author", "Author", "article:author"),
        created=_first(meta, "dcterms:created", "meta:creation-date", "article:published_time"),
        modified=_first(meta, "dcterms:modified", "Last-Modified"),
        language=_first(meta, "dc:language", "Content-Language", "language"),
        pages=[p for p in reader.pages if p < len(text)],
        headings=headings,
        metadata=meta,
        truncated=truncated,
    )


_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})")


def markdown_headings(text: str) -> list[Heading]:
    """ATX (`# Title`) and Setext (`Title` over `===`/`---`) headings of Markdown text.

    Lines inside fenced code blocks are not headings. A Setext heading is recognised when its
    text is a single line starting a block (after a blank line, heading, rule or fence).
    """
    headings: list[Heading] = []
    fence: str | None = None
    offset = 0
    block_start = True
    previous: tuple[str, int] | None = None  # a one-line paragraph that could be a heading
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        start = offset
        offset += len(line)
        opening = _FENCE.match(body)
        if fence is not None or opening:
            marker = opening.group(1) if opening else ""
            if fence is None:
                fence = marker
            elif marker[:1] == fence[0] and len(marker) >= len(fence):
                fence = None
            previous, block_start = None, True
            continue
        atx = _ATX.fullmatch(body)
        underline = _SETEXT.fullmatch(body)
        if atx:
            headings.append(Heading(len(atx.group(1)), (atx.group(2) or "").strip(), start))
            previous, block_start = None, True
        elif underline and previous is not None:
            level = 1 if underline.group(1)[0] == "=" else 2
            headings.append(Heading(level, previous[0].strip(), previous[1]))
            previous, block_start = None, True
        elif not body.strip() or _RULE.fullmatch(body):
            previous, block_start = None, True
        else:
            previous = (body, start) if block_start else None
            block_start = False
    return [h for h in headings if h.text]


class _XhtmlText(HTMLParser):
    """Collects the body text of Tika's XHTML with the offsets of headings and page starts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.headings: list[Heading] = []
        self.pages: list[int] = []
        self._length = 0
        self._in_body = False
        self._divs: list[str] = []
        self._heading: tuple[int, int, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._in_body = True
        elif not self._in_body:
            return
        elif tag == "div":
            css = dict(attrs).get("class") or ""
            if css in _PAGE_CLASSES and not _EMBEDDED_CLASSES.intersection(self._divs):
                self.pages.append(self._length)
            self._divs.append(css)
        elif tag in _HEADING_TAGS and self._heading is None:
            self._heading = (int(tag[1]), self._length, [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self._in_body = False
        elif tag == "div" and self._divs:
            self._divs.pop()
        elif tag in _HEADING_TAGS and self._heading is not None:
            level, start, parts = self._heading
            self._heading = None
            text = " ".join("".join(parts).split())
            if text:
                self.headings.append(Heading(level, text, start))

    def handle_data(self, data: str) -> None:
        if not self._in_body:
            return
        self.pieces.append(data)
        self._length += len(data)
        if self._heading is not None:
            self._heading[2].append(data)


def _first(meta: dict[str, list[str]], *keys: str) -> str | None:
    for key in keys:
        for value in meta.get(key, ()):
            if value.strip():
                return value.strip()
    return None


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _java_reason(trace: str) -> str | None:
    """The most specific message of a Java stack trace Tika printed, for a user to read."""
    if "EncryptedDocumentException" in trace or "password" in trace.lower():
        return "the document is encrypted (password-protected)"
    causes = [line.strip()[len("Caused by: "):] for line in trace.splitlines()
              if line.strip().startswith("Caused by: ")]
    if not causes:
        return None
    last = causes[-1]
    exception, _, message = last.partition(": ")
    name = exception.rsplit(".", 1)[-1]
    return f"{message.strip() or name} ({name})"


def _serve(incoming_fd: int, outgoing_fd: int) -> None:
    """Worker loop: parse the paths received until None arrives or the parent goes away."""
    incoming = Connection(incoming_fd, writable=False)
    outgoing = Connection(outgoing_fd, readable=False)
    # Tika reports its Java exceptions on the process's stderr; keep them to explain failures.
    import iscc_tika

    iscc_tika.Extractor().extract_bytes_to_string(bytearray(b"warm-up"))
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        outgoing.send(("ready", None))
        _answer(incoming, outgoing, capture)


def _answer(incoming: Connection, outgoing: Connection, capture: Any) -> None:
    while True:
        try:
            request = incoming.recv()
        except EOFError:
            return
        if request is None:
            return
        path, max_chars = request
        capture.seek(0)
        capture.truncate()
        try:
            outgoing.send(("ok", parse_in_process(Path(path), max_chars=max_chars)))
        except ParseError as exc:
            capture.seek(0)
            reason = _java_reason(capture.read().decode("utf-8", errors="replace"))
            outgoing.send(("error", f"Tika could not parse the file: {reason}" if reason
                           else str(exc)))
