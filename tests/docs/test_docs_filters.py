"""The filters the docs and `es-rag search --help` show are filters the CLI accepts."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from es_rag.config import PROJECT_ROOT
from es_rag.retrieve import parse_filter

CODE_RE = re.compile(r"`([^`]+)`")


def _documented_filters() -> list[str]:
    text = (PROJECT_ROOT / "docs" / "retrieval.md").read_text(encoding="utf-8")
    section = text.split("## Filters", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [code for row in rows for code in CODE_RE.findall(row.split("|")[1])
            if code != "not <filter>"]


def test_every_filter_in_the_retrieval_docs_parses() -> None:
    filters = _documented_filters()
    assert "title exists" in filters and len(filters) >= 7
    for text in filters:
        parse_filter(text)


def test_the_filters_search_help_suggests_parse_and_name_fields_ingest_writes() -> None:
    shown = subprocess.run([sys.executable, "-m", "es_rag", "search", "--help"],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    help_text = " ".join(shown.split()).split("--filter TEXT", 1)[1].split("--boosts", 1)[0]
    examples = re.findall(r"'([^']+)'", help_text)
    assert examples, help_text
    fields = json.loads((PROJECT_ROOT / "mappings" / "chunks.json").read_text())[
        "mappings"]["properties"]
    for example in examples:
        field = parse_filter(example).field
        top = field.split(".")[0]
        assert top in fields, f"{example!r} filters on {field!r}, which no chunk has"
        if top == "metadata":
            key = field.split(".", 1)[1]
            assert f"--meta {key}=" in help_text, f"{example!r}: the help must say where " \
                                                  f"metadata.{key} comes from"
