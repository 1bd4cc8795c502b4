"""Chunking: structure first, token windows with overlap, code at definitions, exact offsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from es_rag.ingest.chunk import Chunker, chunk_id, code_language, content_hash
from es_rag.ingest.parse import Heading, ParsedDocument, TikaParser

DOCUMENTS = ["guide.md", "handbook.html", "report.pdf", "manual.docx", "notes.txt", "shapes.py",
             "server.go", "widget.ts"]


def prose(text: str, headings: list[Heading] | None = None,
          pages: list[int] | None = None) -> ParsedDocument:
    return ParsedDocument(text=text, mime_type="text/plain", headings=headings or [],
                          pages=pages or [])


def first_lines(chunks) -> dict[tuple[str, ...], str]:
    """The first line of the first chunk under each heading path."""
    starts: dict[tuple[str, ...], str] = {}
    for chunk in chunks:
        starts.setdefault(chunk.headings, chunk.text.splitlines()[0])
    return starts


def chunk_file(parser: TikaParser, path: Path, **options) -> tuple[ParsedDocument, list]:
    doc = parser.parse(path)
    return doc, Chunker(**options).chunk(doc, language=code_language(path))


@pytest.mark.parametrize("name", DOCUMENTS)
@pytest.mark.parametrize("size", [12, 256])
def test_every_chunk_is_the_exact_slice_of_the_parsed_text(parser: TikaParser, corpus: Path,
                                                           name: str, size: int) -> None:
    doc, chunks = chunk_file(parser, corpus / name, chunk_size=size, overlap=size // 4)
    assert chunks
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert doc.text[chunk.start:chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert 0 < chunk.tokens <= size


def test_chunks_follow_markdown_headings(parser: TikaParser, corpus: Path) -> None:
    _, chunks = chunk_file(parser, corpus / "guide.md")
    by_start = {c.text.splitlines()[0]: c.headings for c in chunks}
    assert by_start["# Operator guide"] == ("Operator guide",)
    assert by_start["Applying assets"] == ("Applying assets",)
    assert by_start["### Re-ingesting"] == ("Applying assets", "Ingesting documents",
                                            "Re-ingesting")
    assert all(c.page is None for c in chunks)


def test_a_heading_without_text_of_its_own_joins_its_first_subsection() -> None:
    text = "Guide\n\nSetup\nInstall it.\n"
    doc = prose(text, headings=[Heading(1, "Guide", 0), Heading(2, "Setup", 7)])
    [chunk] = Chunker().chunk(doc)
    assert chunk.text == "Guide\n\nSetup\nInstall it."
    assert chunk.headings == ("Guide", "Setup")


def test_pdf_chunks_never_cross_a_page(parser: TikaParser, corpus: Path) -> None:
    doc, chunks = chunk_file(parser, corpus / "report.pdf")
    assert [c.page for c in chunks] == [1, 2, 3]
    assert "rank constant was lowered" in chunks[1].text


def test_long_sections_are_cut_into_overlapping_windows() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    chunks = Chunker(chunk_size=20, overlap=5).chunk(prose(text))
    assert [c.tokens for c in chunks] == [20, 20, 20, 20, 20, 20, 10]
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = text[after.start:before.end].split()
        assert shared == before.text.split()[-5:]
    assert chunks[-1].text.endswith("w99")


def test_no_overlap_means_chunks_touch_but_do_not_share() -> None:
    text = " ".join(f"w{i}" for i in range(50))
    chunks = Chunker(chunk_size=10, overlap=0).chunk(prose(text))
    assert " ".join(c.text for c in chunks) == text


def test_windows_end_at_a_paragraph_break_when_there_is_one() -> None:
    first = " ".join(["alpha"] * 12) + "."
    second = " ".join(["beta"] * 12) + "."
    chunks = Chunker(chunk_size=20, overlap=0).chunk(prose(f"{first}\n\n{second}"))
    assert [c.text for c in chunks] == [first, second]


def test_windows_prefer_sentence_ends_to_word_breaks() -> None:
    text = "One two three four five six seven. Eight nine ten eleven twelve thirteen fourteen"
    chunks = Chunker(chunk_size=12, overlap=0).chunk(prose(text))
    assert chunks[0].text == "One two three four five six seven."


def test_python_is_cut_at_functions_and_classes(parser: TikaParser, corpus: Path) -> None:
    _, chunks = chunk_file(parser, corpus / "shapes.py", chunk_size=40, overlap=0)
    starts = first_lines(chunks)
    assert starts[("def circle_area",)] == "def circle_area(radius: float) -> float:"
    assert starts[("class Rectangle", "def perimeter")] == "# The perimeter walks all four sides."
    assert starts[("def square",)] == "@functools.cache"
    assert starts[("class Rectangle",)] == "class Rectangle:"


def test_small_definitions_are_packed_together(parser: TikaParser, corpus: Path) -> None:
    _, chunks = chunk_file(parser, corpus / "shapes.py", chunk_size=256, overlap=0)
    assert len(chunks) == 1
    assert chunks[0].headings == ()


def test_go_and_typescript_are_cut_at_top_level_definitions(parser: TikaParser,
                                                            corpus: Path) -> None:
    _, go = chunk_file(parser, corpus / "server.go", chunk_size=24, overlap=0)
    assert first_lines(go) == {
        (): "package server",
        ("func Health",): "// Health answers the readiness probe.",
        ("type Config",): "type Config struct {",
        ("func (c Config) Address",): "func (c Config) Address() string {"}
    _, ts = chunk_file(parser, corpus / "widget.ts", chunk_size=12, overlap=0)
    assert first_lines(ts) == {
        (): 'import { render } from "./render";',
        ("interface WidgetOptions",): "export interface WidgetOptions {",
        ("function createWidget",): "export function createWidget(options: WidgetOptions) {",
        ("class Widget",): "export class Widget {"}


def test_code_that_does_not_parse_is_cut_at_line_ends() -> None:
    text = "".join(f"def broken_{i}(:\n    return {i} +\n" for i in range(30))
    chunks = Chunker(chunk_size=25, overlap=0).chunk(prose(text), language="python")
    assert len(chunks) > 1
    for chunk in chunks:
        assert text[chunk.end:chunk.end + 1] in ("\n", "")


def test_chunk_ids_are_stable_and_change_with_the_text() -> None:
    text = "First paragraph stays.\n\nSecond paragraph changes."
    chunker = Chunker(chunk_size=4, overlap=0)
    before = [chunk_id("doc", c.ordinal, c.content_hash) for c in chunker.chunk(prose(text))]
    again = [chunk_id("doc", c.ordinal, c.content_hash) for c in chunker.chunk(prose(text))]
    edited = chunker.chunk(prose(text.replace("changes", "changed")))
    after = [chunk_id("doc", c.ordinal, c.content_hash) for c in edited]
    assert before == again
    assert before[0] == after[0] and before[-1] != after[-1]
    assert before[0] == f"doc:0:{content_hash('First paragraph stays.')[:8]}"


def test_chunk_size_and_overlap_are_validated() -> None:
    with pytest.raises(ValueError, match="overlap must be at least 0 and smaller than chunk_size"):
        Chunker(chunk_size=32, overlap=32)
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        Chunker(chunk_size=0)


def test_code_languages_come_from_the_file_suffix() -> None:
    assert code_language("a/b.py") == "python"
    assert code_language("x.TSX") == "javascript"
    assert code_language("guide.md") is None
