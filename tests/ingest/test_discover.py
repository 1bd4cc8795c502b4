"""Discovery: which files an ingest run sees, the ids they get and their MIME types."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from es_rag.ingest.discover import DiscoveryError, detect_mime, discover, matches_any


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project folder with documents, a sub-folder, hidden files and tool folders."""
    root = tmp_path / "project"
    for relative in ["README.md", "guide/intro.md", "guide/setup.txt", "guide/deep/notes.md",
                     "build/out.md", ".hidden/secret.md", ".env", ".git/config",
                     ".venv/lib/site.py", "node_modules/pkg/index.js", "src/app.py"]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {relative}\n")
    return root


def sources(files) -> list[str]:
    return [f.source for f in files]


def test_a_folder_is_walked_recursively_without_hidden_or_tool_folders(tree: Path) -> None:
    assert sources(discover([tree])) == [
        "README.md", "build/out.md", "guide/deep/notes.md", "guide/intro.md", "guide/setup.txt",
        "src/app.py"]


def test_hidden_files_can_be_included_but_git_and_venv_never_are(tree: Path) -> None:
    found = sources(discover([tree], include_hidden=True))
    assert ".hidden/secret.md" in found and ".env" in found
    assert not [s for s in found if s.startswith((".git/", ".venv/", "node_modules/"))]


def test_include_and_exclude_globs_pick_files(tree: Path) -> None:
    assert sources(discover([tree], include=["*.md"], exclude=["build"])) == [
        "README.md", "guide/deep/notes.md", "guide/intro.md"]
    assert sources(discover([tree], include=["guide/*.md"])) == [
        "guide/deep/notes.md", "guide/intro.md"]
    assert sources(discover([tree], exclude=["**/deep/*", "*.txt"])) == [
        "README.md", "build/out.md", "guide/intro.md", "src/app.py"]


def test_glob_rules() -> None:
    assert matches_any("a/b/c.md", ["*.md"])
    assert matches_any("a/b/c.md", ["b"])
    assert matches_any("a/b/c.md", ["**/c.md"]) and matches_any("c.md", ["**/c.md"])
    assert not matches_any("a/b/c.md", ["a/*.txt", "x"])


def test_ids_depend_only_on_the_path_relative_to_the_root(tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "project"
    shutil.copytree(tree, copy)
    first = {f.source: f.doc_id for f in discover([tree])}
    second = {f.source: f.doc_id for f in discover([copy])}
    assert first == second
    assert first["guide/intro.md"] == hashlib.sha1(b"guide/intro.md").hexdigest()
    assert len(set(first.values())) == len(first)


def test_a_root_keeps_ids_the_same_whether_a_file_or_its_folder_is_given(tree: Path) -> None:
    whole = {f.source: f.doc_id for f in discover([tree], root=tree)}
    [single] = discover([tree / "guide" / "intro.md"], root=tree)
    assert single.source == "guide/intro.md"
    assert single.doc_id == whole["guide/intro.md"]
    assert [f.source for f in discover([tree / "guide" / "intro.md"])] == ["intro.md"]


def test_a_single_path_may_be_given_without_a_list(tree: Path) -> None:
    assert sources(discover(str(tree / "guide"))) == sources(discover([tree / "guide"]))


def test_the_same_file_given_twice_is_seen_once(tree: Path) -> None:
    files = discover([tree / "guide", tree / "guide" / "intro.md"], root=tree)
    assert sources(files) == ["guide/deep/notes.md", "guide/intro.md", "guide/setup.txt"]


def test_a_custom_id_function_names_documents(tree: Path) -> None:
    files = discover([tree / "src"], id_function=lambda path, source: f"repo:{source}")
    assert [f.doc_id for f in files] == ["repo:app.py"]


def test_paths_that_cannot_be_used_are_refused_by_name(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="missing.md: no such file or folder"):
        discover([tree / "missing.md"])
    outside = tmp_path / "outside.md"
    outside.write_text("x")
    with pytest.raises(DiscoveryError, match="is not inside the root"):
        discover([outside], root=tree)


def test_files_carry_size_mtime_and_mime_type(tree: Path) -> None:
    [readme] = discover([tree / "README.md"])
    assert readme.size == len("content of README.md\n")
    assert readme.mtime > 0
    assert readme.mime_type == "text/markdown"
    assert readme.path == (tree / "README.md").resolve()


def test_mime_types_come_from_the_name_then_from_the_content(tmp_path: Path) -> None:
    assert detect_mime(Path("a.docx")).endswith("wordprocessingml.document")
    assert detect_mime(Path("widget.ts")) == "text/x-typescript"
    assert detect_mime(Path("a.pdf")) == "application/pdf"
    samples = {"pdf": b"%PDF-1.4\n...", "page": b"  <!DOCTYPE html><html></html>",
               "text": "plain words, caf\u00e9".encode(), "blob": b"\x00\x01\x02binary"}
    for name, content in samples.items():
        (tmp_path / name).write_bytes(content)
    assert detect_mime(tmp_path / "pdf") == "application/pdf"
    assert detect_mime(tmp_path / "page") == "text/html"
    assert detect_mime(tmp_path / "text") == "text/plain"
    assert detect_mime(tmp_path / "blob") == "application/octet-stream"
