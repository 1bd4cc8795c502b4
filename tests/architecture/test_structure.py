"""The structure check as a developer runs it: on this repository it passes (every violation is
a listed one), and on a small tree it finds each kind of violation, new or fixed-but-listed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.architecture", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def small_tree(root: Path) -> None:
    """An engine with one of each violation, and a lazy import that is no cycle."""
    write(root, {
        "es_rag/__init__.py": "", "es_rag/cli.py": "x = 1\n" * 501,
        "es_rag/engine/__init__.py": "",
        "es_rag/engine/app.py": "from .http import routes_docs\nclass EngineApp: ...\n",
        "es_rag/engine/http/__init__.py": "",
        "es_rag/engine/http/routes_docs.py":
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from ..app import EngineApp\n",
        "es_rag/engine/shard.py": "from .store import Store\n",
        "es_rag/engine/store.py": "def f():\n    from .shard import Shard\n",
        "es_rag/engine/config.py": "from es_rag import cli\n",
        "admin_ui/__init__.py": "",
    })


def test_the_repository_has_no_violation_beyond_the_allow_list() -> None:
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 new, 0 fixed but still listed" in result.stdout


def test_a_new_violation_of_each_rule_fails_and_is_named(tmp_path: Path) -> None:
    small_tree(tmp_path)
    empty = tmp_path / "allowed.txt"
    empty.write_text("# nothing allowed\n")
    result = run("--root", str(tmp_path), "--allowed", str(empty))
    assert result.returncode == 1
    new = sorted(line for line in result.stdout.splitlines() if line.startswith("NEW"))
    assert [line.split("    ")[0] for line in new] == [
        "NEW cycle app -> http.routes_docs", "NEW cycle http.routes_docs -> app",
        "NEW engine-imports-library config -> es_rag.cli",
        "NEW handler-imports-app http.routes_docs",
        "NEW size es_rag/cli.py"]
    assert "cycle app -> http.routes_docs -> app" in result.stdout
    # the lazy import in store.py closes no cycle: shard -> store is no violation
    assert "shard" not in result.stdout


def test_listed_violations_pass_and_a_fixed_one_still_listed_fails(tmp_path: Path) -> None:
    small_tree(tmp_path)
    allowed = tmp_path / "allowed.txt"
    entries = ["cycle app -> http.routes_docs", "cycle http.routes_docs -> app",
               "engine-imports-library config -> es_rag.cli",
               "handler-imports-app http.routes_docs", "size es_rag/cli.py"]
    allowed.write_text("reason: the small tree's known faults\n" + "\n".join(entries) + "\n")
    assert run("--root", str(tmp_path), "--allowed", str(allowed)).returncode == 0

    (tmp_path / "es_rag/engine/config.py").write_text("import json\n")
    result = run("--root", str(tmp_path), "--allowed", str(allowed))
    assert result.returncode == 1
    assert "FIXED BUT STILL LISTED engine-imports-library config -> es_rag.cli" in result.stdout


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    small_tree(tmp_path)
    allowed = tmp_path / "allowed.txt"
    allowed.write_text("size es_rag/cli.py\n")
    result = run("--root", str(tmp_path), "--allowed", str(allowed))
    assert result.returncode == 2
    assert "[size es_rag/cli.py] has no reason above it" in result.stderr
