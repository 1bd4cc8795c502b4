"""Cut parsed documents into chunks: by structure first (headings, pages, paragraphs), then tokens.

Every chunk is an exact slice of the parsed text: `text[chunk.start:chunk.end] == chunk.text`
(offsets count Unicode code points), so a citation can point at the span it came from. Source
code is cut at function and class boundaries (Python through `ast`, other languages through
top-level definition patterns), falling back to whole lines.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from es_rag.ingest.parse import Heading, ParsedDocument

TokenSpans = Callable[[str], list[tuple[int, int]]]
"""Splits a text into tokens, returned as (start, end) character offsets."""

DEFAULT_CHUNK_SIZE = 256
DEFAULT_OVERLAP = 32

_WORD = re.compile(r"\w+|[^\w\s]")
_SETEXT_UNDERLINE = re.compile(r"\s*(=+|-+)\s*")

CODE_LANGUAGES = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "javascript", ".tsx": "javascript",
    ".go": "go", ".rs": "rust",
    ".java": "java", ".kt": "java", ".scala": "java", ".cs": "java",
    ".c": "c", ".h": "c", ".cc": "c", ".cpp": "c", ".hpp": "c",
    ".rb": "ruby", ".php": "php", ".swift": "swift",
}

# Lines that open a top-level definition, per language family; group 1 names it in `headings`.
_DEFINITIONS = {
    "javascript": r"(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:async\s+)?"
                  r"((?:function\*?|class|interface|type|enum|const|let|var)\s+[\w$]+)",
    "go": r"((?:func|type)\s+(?:\([^)]*\)\s*)?\w+)",
    "rust": r"(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:unsafe\s+)?"
            r"((?:fn|struct|enum|trait|impl|mod|macro_rules!)\s*(?:<[^>]*>\s*)?[\w:]+)",
    "java": r"\s{0,4}(?:(?:public|private|protected|internal|static|final|abstract|sealed|"
            r"override|open|data|async|partial|virtual)\s+)*"
            r"((?:class|interface|enum|record|object|fun|void)\s+\w+|[\w<>\[\],.]+\s+\w+(?=\s*\())",
    "c": r"((?:struct|class|namespace|enum|union)\s+\w+|[A-Za-z_][\w\s*&:<>,]*?\w+(?=\s*\([^;]*$))",
    "ruby": r"\s{0,2}((?:def|class|module)\s+[\w.:?!]+)",
    "php": r"\s{0,4}(?:(?:public|private|protected|static|abstract|final)\s+)*"
           r"((?:function|class|interface|trait)\s+\w+)",
    "swift": r"\s{0,4}(?:(?:public|private|internal|open|static|final)\s+)*"
             r"((?:func|class|struct|enum|protocol|extension)\s+\w+)",
}
_DEFINITION_RES = {lang: re.compile(pattern) for lang, pattern in _DEFINITIONS.items()}
_COMMENT_LINE = re.compile(r"\s*(?://|/\*|\*|#|@|--|\[)")


def word_spans(text: str) -> list[tuple[int, int]]:
    """Approximate tokens (words and punctuation marks), for when no model tokenizer is at hand."""
    return [m.span() for m in _WORD.finditer(text)]


def tokenizer_spans(tokenizer: Any) -> TokenSpans:
    """Token spans from a Hugging Face fast tokenizer, special tokens excluded."""

    def spans(text: str) -> list[tuple[int, int]]:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                            verbose=False)
        return [(s, e) for s, e in encoded["offset_mapping"] if e > s]

    return spans


def content_hash(text: str) -> str:
    """SHA-256 hex digest of a chunk's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_id(doc_id: str, ordinal: int, text_hash: str) -> str:
    """`{doc_id}:{ordinal}:{first 8 hex digits of the text's SHA-256}`.

    Stable across runs while the chunk's text and position are unchanged, and different as soon
    as either changes, so re-ingesting a changed document overwrites or replaces exactly the
    chunks that moved.
    """
    return f"{doc_id}:{ordinal}:{text_hash[:8]}"


def code_language(path: str | PurePath) -> str | None:
    """The language family of a source file, from its suffix; None for documents."""
    return CODE_LANGUAGES.get(PurePath(path).suffix.lower())


@dataclass(frozen=True)
class Chunk:
    """One span of a document's parsed text, with where it sits in the document's structure."""

    ordinal: int
    text: str
    start: int
    end: int
    headings: tuple[str, ...]
    """Heading path at the chunk (outermost first); for code, the enclosing definitions."""
    page: int | None
    tokens: int

    @property
    def content_hash(self) -> str:
        """SHA-256 hex digest of the chunk's text."""
        return content_hash(self.text)


_Piece = tuple[int, int, tuple[str, ...], int | None, int]
"""A chunk before numbering: start, end, headings, page, tokens."""


@dataclass
class _Span:
    start: int
    end: int
    headings: tuple[str, ...]
    page: int | None = None


class Chunker:
    """Cuts documents into chunks of at most `chunk_size` tokens, `overlap` tokens shared.

    ```
    chunker = Chunker(chunk_size=256, overlap=32, token_spans=tokenizer_spans(embedder.tokenizer))
    for chunk in chunker.chunk(parsed_document):
        assert parsed_document.text[chunk.start:chunk.end] == chunk.text
    ```
    Sections (a heading to the next heading, split at page starts) are chunked separately; a
    section longer than `chunk_size` is cut at the last paragraph break, else line break, else
    sentence end, else word boundary in the second half of the window. Tokens are counted with
    `token_spans` (the embedding model's tokenizer; words and punctuation by default).
    """

    def __init__(self, *, chunk_size: int = DEFAULT_CHUNK_SIZE, overlap: int = DEFAULT_OVERLAP,
                 token_spans: TokenSpans = word_spans) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1 token, got {chunk_size}")
        if not 0 <= overlap < chunk_size:
            raise ValueError(f"overlap must be at least 0 and smaller than chunk_size "
                             f"({chunk_size}), got {overlap}")
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.token_spans = token_spans

    def chunk(self, document: ParsedDocument, *, language: str | None = None) -> list[Chunk]:
        """Chunks of a parsed document; `language` (see `code_language`) selects code chunking."""
        text = document.text
        if language is not None:
            spans = _code_units(text, language)
            chunks = self._pack(text, spans)
        else:
            spans = _sections(text, document.headings, document.pages)
            for span in spans:
                span.page = document.page_at(span.start)
            chunks = [c for span in spans for c in self._split(text, span)]
        return [Chunk(ordinal=i, text=text[s:e], start=s, end=e, headings=h, page=p, tokens=n)
                for i, (s, e, h, p, n) in enumerate(chunks)]

    def _tokens(self, text: str, span: _Span) -> list[tuple[int, int]]:
        return [(span.start + s, span.start + e)
                for s, e in self.token_spans(text[span.start:span.end])]

    def _split(self, text: str, span: _Span, tokens: list[tuple[int, int]] | None = None,
               line_breaks_only: bool = False) -> list[_Piece]:
        """Token windows over one span, cut at the best break in each window's second half."""
        if tokens is None:
            tokens = self._tokens(text, span)
        out: list[_Piece] = []
        first, count = 0, len(tokens)
        while first < count:
            stop = min(first + self.chunk_size, count)
            if stop < count:
                stop = _best_break(text, tokens, first + max(1, self.chunk_size // 2), stop,
                                   line_breaks_only)
            out.append((tokens[first][0], tokens[stop - 1][1], span.headings, span.page,
                        stop - first))
            if stop >= count:
                break
            following = max(stop - self.overlap, first + 1)
            # Start the overlap at a word boundary rather than inside a word.
            while following < stop and tokens[following][0] == tokens[following - 1][1]:
                following += 1
            first = following
        return out

    def _pack(self, text: str, spans: list[_Span]) -> list[_Piece]:
        """Join neighbouring code units into chunks up to `chunk_size`; cut big ones at lines."""
        out: list[_Piece] = []
        group: list[tuple[_Span, list[tuple[int, int]]]] = []
        size = 0

        def flush() -> None:
            nonlocal size
            if group:
                tokens = [t for _, toks in group for t in toks]
                paths = [span.headings for span, _ in group]
                out.append((tokens[0][0], tokens[-1][1], _common_prefix(paths), None,
                            len(tokens)))
                group.clear()
            size = 0

        for span in spans:
            tokens = self._tokens(text, span)
            if not tokens:
                continue
            if len(tokens) > self.chunk_size:
                flush()
                out.extend(self._split(text, span, tokens, line_breaks_only=True))
                continue
            if size + len(tokens) > self.chunk_size:
                flush()
            group.append((span, tokens))
            size += len(tokens)
        flush()
        return out


def _best_break(text: str, tokens: Sequence[tuple[int, int]], low: int, high: int,
                line_breaks_only: bool) -> int:
    """Index of the token to stop before: the last paragraph, line, sentence or word break."""
    best_score, best = -1, high
    for k in range(high, low - 1, -1):
        gap = text[tokens[k - 1][1]:tokens[k][0]]
        if "\n\n" in gap or "\n\r\n" in gap:
            score = 4
        elif "\n" in gap:
            score = 3
        elif line_breaks_only:
            score = 0
        elif gap and text[tokens[k - 1][1] - 1] in ".!?;:":
            score = 2
        elif gap:
            score = 1
        else:
            score = 0
        if score > best_score:
            best_score, best = score, k
            if score == 4:
                break
    return best


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        length = 0
        while length < min(len(prefix), len(path)) and prefix[length] == path[length]:
            length += 1
        prefix = prefix[:length]
    return prefix


def _sections(text: str, headings: Sequence[Heading], pages: Sequence[int]) -> list[_Span]:
    """Split the text at every heading and page start; each part knows its heading path."""
    starts = sorted({0, *(h.start for h in headings), *pages} - {len(text)})
    paths: list[tuple[str, ...]] = []
    stack: list[Heading] = []
    ordered = sorted(headings, key=lambda h: h.start)
    position = 0
    for start in starts:
        while position < len(ordered) and ordered[position].start <= start:
            heading = ordered[position]
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            stack.append(heading)
            position += 1
        paths.append(tuple(h.text for h in stack))
    spans = [_Span(start, end, path)
             for start, end, path in zip(starts, [*starts[1:], len(text)], paths, strict=True)]
    heading_starts = {h.start for h in headings}
    page_starts = set(pages)
    merged: list[_Span] = []
    for span in reversed(spans):
        # A heading with no body of its own joins the sub-section that follows it.
        if (merged and span.start in heading_starts and merged[-1].start not in page_starts
                and _heading_only(text[span.start:span.end])
                and merged[-1].headings[:len(span.headings)] == span.headings
                and len(merged[-1].headings) > len(span.headings)):
            merged[-1].start = span.start
        else:
            merged.append(span)
    return merged[::-1]


def _heading_only(section: str) -> bool:
    lines = [line for line in section.splitlines() if line.strip()]
    return len(lines) <= 1 or (len(lines) == 2 and bool(_SETEXT_UNDERLINE.fullmatch(lines[1])))


def _code_units(text: str, language: str) -> list[_Span]:
    """Consecutive spans covering the text, one per top-level definition where one starts."""
    if language == "python":
        try:
            return _python_units(text, ast.parse(text).body, 0, len(text), ())
        except (SyntaxError, ValueError):
            pass
    pattern = _DEFINITION_RES.get(language)
    line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    lines = text.splitlines(keepends=True)
    cuts: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        found = pattern.match(line) if pattern is not None else None
        if found is None:
            continue
        first = number
        while first > 0 and _COMMENT_LINE.match(lines[first - 1]):
            first -= 1
        cuts.append((line_starts[first], " ".join(found.group(1).split())))
    if not cuts:
        return [_Span(0, len(text), ())]
    spans = [_Span(0, cuts[0][0], ())] if cuts[0][0] > 0 else []
    for (start, name), (end, _) in zip(cuts, [*cuts[1:], (len(text), "")], strict=True):
        if end > start:
            spans.append(_Span(start, end, (name,)))
    return spans


def _python_units(text: str, body: list[ast.stmt], start: int, end: int,
                  path: tuple[str, ...]) -> list[_Span]:
    """Spans of a Python block: definitions each on their own, other statements grouped."""
    offsets = _line_offsets(text)
    spans: list[_Span] = []
    cursor = start
    for node in body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        first_line = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        node_start = offsets[first_line - 1]
        while first_line > 1 and text[offsets[first_line - 2]:node_start].lstrip().startswith("#"):
            first_line -= 1
            node_start = offsets[first_line - 1]
        node_end = offsets[node.end_lineno] if node.end_lineno is not None else end
        node_end = min(node_end, end)
        if node_start > cursor:
            spans.append(_Span(cursor, node_start, path))
        kind = "class" if isinstance(node, ast.ClassDef) else "def"
        inner = (*path, f"{kind} {node.name}")
        members = [n for n in node.body
                   if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
        if isinstance(node, ast.ClassDef) and members:
            spans.extend(_python_units(text, node.body, node_start, node_end, inner))
        else:
            spans.append(_Span(node_start, node_end, inner))
        cursor = node_end
    if cursor < end:
        spans.append(_Span(cursor, end, path))
    return spans


def _line_offsets(text: str) -> list[int]:
    """Offset of the start of each line, plus the end of the text."""
    return [0, *(m.end() for m in re.finditer(r"\n", text)), len(text)]
