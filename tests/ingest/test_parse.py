"""Parsing with Tika: text, title, headings and pages of each format, and files that fail."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from es_rag.ingest.parse import ParseError, TikaParser, markdown_headings

from .documents import write_docx, write_pdf


def heading_lines(doc) -> list[tuple[int, str]]:
    return [(h.level, h.text) for h in doc.headings]


def test_markdown_headings_atx_and_setext_but_not_in_code(parser: TikaParser,
                                                          corpus: Path) -> None:
    doc = parser.parse(corpus / "guide.md")
    assert doc.mime_type == "text/markdown"
    assert doc.title == "Operator guide"
    assert heading_lines(doc) == [(1, "Operator guide"), (1, "Applying assets"),
                                  (2, "Versioned indices"), (2, "Ingesting documents"),
                                  (3, "Re-ingesting")]
    for heading in doc.headings:
        assert heading.text in doc.text[heading.start:heading.start + 40]
    assert doc.text.startswith((corpus / "guide.md").read_text())


def test_html_title_language_author_and_headings(parser: TikaParser, corpus: Path) -> None:
    doc = parser.parse(corpus / "handbook.html")
    assert doc.mime_type == "text/html"
    assert doc.title == "Relevance tuning handbook"
    assert doc.language == "en"
    assert heading_lines(doc) == [(1, "Relevance tuning"), (2, "Hybrid search"),
                                  (3, "Rank constant"), (2, "Judgments")]
    for heading in doc.headings:
        assert doc.text[heading.start:].startswith(heading.text)
    assert "reciprocal rank fusion & a rank constant" in doc.text
    assert "<p>" not in doc.text


def test_docx_title_author_and_heading_levels(parser: TikaParser, corpus: Path) -> None:
    doc = parser.parse(corpus / "manual.docx")
    assert doc.mime_type.endswith("wordprocessingml.document")
    assert (doc.title, doc.author) == ("Operator manual", "Search team")
    assert heading_lines(doc) == [(1, "Installation"), (2, "Offline machines"),
                                  (1, "Configuration")]
    assert doc.text[doc.headings[1].start:].startswith("Offline machines")


def test_pdf_pages_are_character_offsets_into_the_text(parser: TikaParser, corpus: Path) -> None:
    doc = parser.parse(corpus / "report.pdf")
    assert doc.mime_type == "application/pdf"
    assert (doc.title, doc.author) == ("Quarterly search report", "Search team")
    assert len(doc.pages) == 3
    for number, phrase in [(1, "Hybrid retrieval"), (2, "rank constant was lowered"),
                           (3, "handbook folder")]:
        assert doc.page_at(doc.text.index(phrase)) == number
    assert doc.page_at(doc.pages[1]) == 2 and doc.page_at(doc.pages[1] - 1) == 1


def test_text_that_is_not_utf8_is_decoded(parser: TikaParser, tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Caf\u00e9 cr\u00e8me, na\u00efve fa\u00e7ade: an old Latin-1 note about "
                     "the relevance review.\n".encode("latin-1"))
    assert "Caf\u00e9 cr\u00e8me, na\u00efve fa\u00e7ade" in parser.parse(path).text


def test_text_files_keep_characters_outside_the_basic_plane(parser: TikaParser,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "gothic.txt"
    path.write_text("Gothic letters \U00010332\U0001033f\U00010344 stay whole.\n",
                    encoding="utf-8")
    doc = parser.parse(path)
    assert "\U00010332\U0001033f\U00010344" in doc.text
    assert doc.pages == [] and doc.page_at(3) is None


def test_bad_files_fail_with_a_reason(parser: TikaParser, tmp_path: Path) -> None:
    junk = tmp_path / "scan.pdf"
    junk.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    truncated = write_pdf(tmp_path / "cut.pdf", [["first page"], ["second page"]],
                          title="Cut", author="Ops")
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(ParseError, match="Tika could not parse the file: .+"):
        parser.parse(junk)
    with pytest.raises(ParseError, match="no page could be read .* damaged or truncated"):
        parser.parse(truncated)
    with pytest.raises(ParseError, match="the file is empty"):
        parser.parse(empty)
    with pytest.raises(ParseError, match="disappeared"):
        parser.parse(tmp_path / "gone.md")
    locked = write_pdf(tmp_path / "locked.pdf", [["salary table"]], title="Salaries",
                       author="HR", password_protected=True)
    with pytest.raises(ParseError, match=r"encrypted \(password-protected\)"):
        parser.parse(locked)
    # the worker survives failures
    assert parser.parse(Path(__file__).parent / "fixtures" / "notes.txt").text


def test_size_limit_refuses_big_files_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("word " * 30_000)
    with TikaParser(max_bytes=100_000) as limited:
        with pytest.raises(ParseError, match=r"146.5 KB, over the size limit of 97.7 KB"):
            limited.parse(big)
        assert limited._process is None  # refused without starting Tika


def test_text_limit_cuts_and_marks_the_document(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("abcdefghij" * 100)
    with TikaParser(max_chars=250) as limited:
        doc = limited.parse(path)
    assert len(doc.text) == 250 and doc.truncated


def zip_bomb(path: Path, characters: int) -> Path:
    """A DOCX whose document part is `characters` of text in a few kilobytes."""
    write_docx(path, [(0, "placeholder")], title="Bomb", author="Nobody")
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    body = parts["word/document.xml"].decode()
    body = body.replace("placeholder", "a " * (characters // 2))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, body if name == "word/document.xml" else data)
    return path


def test_a_zip_bomb_is_refused_before_tika_expands_it(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.docx", 1_000_000)
    assert bomb.stat().st_size < 10_000
    with TikaParser(max_chars=50_000) as limited:
        with pytest.raises(ParseError, match=r"refused as a decompression bomb: its .* KB expand "
                                             r"to .* KB, over 100 times its size"):
            limited.parse(bomb)
        assert limited._process is None  # Tika never opened it


def test_a_compressed_document_within_the_text_limit_parses(tmp_path: Path) -> None:
    dense = zip_bomb(tmp_path / "dense.docx", 200_000)  # 100 times compressed, yet small
    with TikaParser(max_chars=50_000) as limited:
        doc = limited.parse(dense)
    assert len(doc.text) == 50_000 and doc.truncated


@pytest.mark.timeout(60)  # reading a FIFO would block for ever
def test_a_fifo_or_a_device_is_refused_without_reading_it(parser: TikaParser,
                                                          tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "zero").symlink_to("/dev/zero")
    for name in ("pipe", "zero"):
        with pytest.raises(ParseError, match="not a regular file"):
            parser.parse(tmp_path / name)


def test_a_parse_over_the_timeout_is_stopped_and_the_next_file_parses(corpus: Path) -> None:
    with TikaParser(timeout=0.001) as hasty:
        with pytest.raises(ParseError, match="longer than the 0.001 s limit and was stopped"):
            hasty.parse(corpus / "guide.md")
        hasty.timeout = 60
        assert hasty.parse(corpus / "guide.md").title == "Operator guide"


def test_a_worker_that_cannot_start_fails_the_file_with_its_reason(
        corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("es_rag.ingest.parse.sys.executable", "/bin/false")
    with TikaParser() as broken, pytest.raises(
            ParseError, match=r"the Tika worker process did not start \(exit code 1\)"):
        broken.parse(corpus / "guide.md")


def test_markdown_heading_rules() -> None:
    text = ("Intro\n"
            "---\n"
            "\n"
            "---\n"  # after a blank line: a thematic break, not a heading
            "Title\n"
            "=====\n"
            "\n"
            "~~~\n# in a tilde fence\n~~~\n"
            "####### seven hashes is text\n"
            "## Closed ##\n"
            "#\n")
    headings = markdown_headings(text)
    assert [(h.level, h.text) for h in headings] == [(2, "Intro"), (1, "Title"), (2, "Closed")]
    assert text[headings[1].start:].startswith("Title")
