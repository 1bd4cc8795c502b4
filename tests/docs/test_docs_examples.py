"""Every example in README.md and docs/*.md runs, as a process, on the embedded engine.

An example is a fenced ```bash block. Each block runs as one `bash -e -o pipefail` script in a
working copy of the project, against the shared engine of `docs_engine` (the project's assets
applied and its docs ingested by `es-rag demo`), with `es-rag` and `.venv/bin/es-rag` run as
`python -m es_rag`. Blocks of a page run in order. An HTML comment right before a block says
how to treat it; there are two:

    <!-- example: skip (why: a real cluster, the network, minutes of work) -->
    <!-- example: exit N -->      (the block is expected to end with exit status N)
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from es_rag_processes import DocsEngine, process_env

from es_rag.config import PROJECT_ROOT

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
FENCE_RE = re.compile(r"^(?P<fence>```|~~~)\s*(?P<info>[\w+-]*)\s*$")
MARKER_RE = re.compile(r"^<!--\s*example:\s*(?P<spec>.*?)\s*-->$")
SKIP_RE = re.compile(r"^skip \((?P<reason>[^)]+)\)$")
EXIT_RE = re.compile(r"^exit (?P<status>\d+)$")
# `es-rag` where a command starts: line start, after ; & | ( $( or `VAR=value` assignments
COMMAND_RE = re.compile(r"(?P<lead>(?:^|[;&|(]|\$\()\s*(?:\w+=\S*\s+)*)(?:\.venv/bin/)?es-rag"
                        r"(?=\s|$)", re.MULTILINE)
ES_RAG_LINE_RE = re.compile(r"^\s*(?:\w+=\S*\s+)*(?:\.venv/bin/)?es-rag\s", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    """One fenced bash block of a page."""

    page: str  # path relative to the project
    line: int  # line of the opening fence
    script: str
    skip: str | None = None  # the reason it does not run here
    exit_status: int = 0

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass(frozen=True)
class Block:
    """A fenced block of any language, and the marker comment before it (if any)."""

    line: int
    info: str
    text: str
    marker: str | None


def fenced_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown page, in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE_RE.match(lines[i].strip())
        if not opening:
            i += 1
            continue
        previous = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER_RE.match(previous)
        end = i + 1
        while end < len(lines) and lines[end].strip() != opening["fence"]:
            end += 1
        blocks.append(Block(i + 1, opening["info"], "\n".join(lines[i + 1:end]),
                            marker["spec"] if marker else None))
        i = end + 1
    return blocks


def examples_of(page: Path) -> list[Example]:
    """The bash examples of a page; a marker that is neither form is an error."""
    name = str(page.relative_to(PROJECT_ROOT))
    found = []
    for block in fenced_blocks(page.read_text(encoding="utf-8")):
        if block.info != "bash":
            continue
        skip, status = None, 0
        if block.marker is not None:
            skipped, exits = SKIP_RE.match(block.marker), EXIT_RE.match(block.marker)
            if not (skipped or exits):
                raise ValueError(f"{name}:{block.line}: unknown example marker "
                                 f"{block.marker!r}; use 'skip (reason)' or 'exit N'")
            skip = skipped["reason"] if skipped else None
            status = int(exits["status"]) if exits else 0
        found.append(Example(name, block.line, block.text, skip, status))
    return found


EXAMPLES = [example for page in PAGES for example in examples_of(page)]


def as_process_script(script: str) -> str:
    """The block with every `es-rag` command run as `<this python> -m es_rag`."""
    command = f"{shlex.quote(sys.executable)} -m es_rag"
    return COMMAND_RE.sub(lambda m: m["lead"] + command, script)


def test_examples_are_found_and_every_skip_says_why() -> None:
    pages = {example.page for example in EXAMPLES}
    assert {"README.md", "docs/assets.md", "docs/retrieval.md"} <= pages
    skipped = [f"{e.id}: {e.skip}" for e in EXAMPLES if e.skip]
    print("\nexamples that do not run here:\n  " + "\n  ".join(skipped))
    assert all(e.skip.strip() for e in EXAMPLES if e.skip is not None)


def test_every_block_with_an_es_rag_command_is_a_bash_example() -> None:
    unlabelled = [f"{page.relative_to(PROJECT_ROOT)}:{block.line}"
                  for page in PAGES for block in fenced_blocks(page.read_text(encoding="utf-8"))
                  if block.info != "bash" and ES_RAG_LINE_RE.search(block.text)]
    assert unlabelled == [], "label these blocks ```bash so their commands are tested"


def test_es_rag_runs_as_this_python_only_where_a_command_starts() -> None:
    script = ('.venv/bin/es-rag status\nX=1 es-rag ask "what is es-rag?" | head -1\n'
              "echo $(es-rag plan --json) # es-rag-reader\n")
    python = shlex.quote(sys.executable)
    assert as_process_script(script) == (
        f'{python} -m es_rag status\nX=1 {python} -m es_rag ask "what is es-rag?" | head -1\n'
        f"echo $({python} -m es_rag plan --json) # es-rag-reader\n")


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_runs(example: Example, docs_engine: DocsEngine) -> None:
    if example.skip:
        pytest.skip(f"{example.id}: {example.skip}")
    demo = docs_engine.outputs["demo"]
    assert demo.returncode == 0, f"es-rag demo failed:\n{demo.stdout}\n{demo.stderr}"
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c",
                             as_process_script(example.script)],
                            cwd=docs_engine.root, env=process_env(docs_engine.env),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == example.exit_status, (
        f"{example.id} exited {result.returncode} (expected {example.exit_status})\n"
        f"--- script\n{example.script}\n--- stdout\n{result.stdout}\n"
        f"--- stderr\n{result.stderr}")
    assert "Traceback" not in result.stderr, result.stderr
