"""docs/judgments.md's worked example runs as written: its shell blocks, in order, as processes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from es_rag.config import PROJECT_ROOT

from .test_cli import _free_port, run

DOC = PROJECT_ROOT / "docs" / "judgments.md"


def shell_blocks(markdown: str) -> list[str]:
    """The fenced ```bash blocks of a markdown text, in order."""
    return re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)


def test_the_worked_example_runs_and_evaluates_the_live_index(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    shutil.copytree(PROJECT_ROOT / "docs", work / "docs")
    env = {**os.environ, "ES_RAG_DATA": str(tmp_path / "data"),
           "ES_RAG_ENGINE_PORT": str(_free_port()), "ES_RAG_ASSETS": str(PROJECT_ROOT),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    blocks = shell_blocks(DOC.read_text())
    assert len(blocks) == 3
    try:
        outputs = []
        for block in blocks:
            done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=work,
                                  env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{block}\n{done.stderr}"
            outputs.append(done.stdout)
    finally:
        run("engine", "stop", env=env)
    assert re.fullmatch(r"q1 0 \S+ 1\n", (work / "judgments" / "mine.qrels").read_text())
    report = outputs[-1]
    assert "mine (live, all): 1 queries" in report
    assert re.search(r"\bcurrent\b", report) and re.search(r"\bbm25\b", report)
