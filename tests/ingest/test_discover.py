"""Discovery: which files an ingest run sees, the ids they get and their MIME types."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from es_rag.ingest.discover import (
    DiscoveryError,
    detect_mime,
    discover,
    document_id,
    matches_any,
)


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


def sources(found) -> list[str]:
    return [f.source for f in found.files]


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


def test_ids_depend_only_on_the_source_name_and_the_path_in_the_root(
        tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "project"  # the same folder on another machine
    shutil.copytree(tree, copy)
    first = {f.source: f.doc_id for f in discover([tree]).files}
    second = {f.source: f.doc_id for f in discover([copy]).files}
    assert first == second
    assert first["guide/intro.md"] == hashlib.sha1(b"project\nguide/intro.md").hexdigest()
    assert len(set(first.values())) == len(first)
    renamed = {f.source: f.doc_id for f in discover([copy], source_name="handbook").files}
    assert renamed["guide/intro.md"] == document_id("handbook", "guide/intro.md")


def test_a_root_keeps_ids_the_same_whether_a_file_or_its_folder_is_given(tree: Path) -> None:
    whole = {f.source: f.doc_id for f in discover([tree], root=tree).files}
    [single] = discover([tree / "guide" / "intro.md"], root=tree).files
    assert single.source == "guide/intro.md"
    assert single.doc_id == whole["guide/intro.md"]
    [alone] = discover([tree / "guide" / "intro.md"]).files
    assert (alone.source_name, alone.source) == ("guide", "intro.md")


def test_a_single_path_may_be_given_without_a_list(tree: Path) -> None:
    assert sources(discover(str(tree / "guide"))) == sources(discover([tree / "guide"]))


def test_the_same_file_given_twice_is_seen_once(tree: Path) -> None:
    files = discover([tree / "guide", tree / "guide" / "intro.md"], root=tree)
    assert sources(files) == ["guide/deep/notes.md", "guide/intro.md", "guide/setup.txt"]


def test_a_file_given_with_its_folder_belongs_to_that_folder(tree: Path) -> None:
    found = discover([tree, tree / "guide" / "intro.md"])
    assert {(f.source_name, f.source) for f in found.files if f.source.endswith("intro.md")} == {
        ("project", "guide/intro.md")}
    assert found.synced == {"project"}


def test_paths_that_cannot_be_used_are_listed_and_the_others_walked(
        tree: Path, tmp_path: Path) -> None:
    found = discover([tree / "missing.md", tree / "guide"])
    assert [(u.path, u.reason) for u in found.unusable] == [
        (str(tree / "missing.md"), "no such file or folder")]
    assert sources(found) == ["deep/notes.md", "intro.md", "setup.txt"]
    outside = tmp_path / "outside.md"
    outside.write_text("x")
    [refused] = discover([outside], root=tree).unusable
    assert refused.reason == f"not inside the root {tree}"


def test_files_carry_size_mtime_and_mime_type(tree: Path) -> None:
    [readme] = discover([tree / "README.md"]).files
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


def test_two_folders_with_the_same_name_are_refused_as_one_source(tmp_path: Path) -> None:
    for side in ("a", "b"):
        (tmp_path / side / "docs").mkdir(parents=True)
        (tmp_path / side / "docs" / "good.txt").write_text(f"from {side}\n")
    with pytest.raises(DiscoveryError, match=r"a/docs and .*b/docs would both be source 'docs'"):
        discover([tmp_path / "a" / "docs", tmp_path / "b" / "docs"])
    with pytest.raises(DiscoveryError, match="would both be source 'shared'"):
        discover([tmp_path / "a", tmp_path / "b"], source_name="shared")
    found = discover([tmp_path / "a", tmp_path / "b"])
    assert {(f.source_name, f.source) for f in found.files} == {
        ("a", "docs/good.txt"), ("b", "docs/good.txt")}
    assert len({f.doc_id for f in found.files}) == 2
    with pytest.raises(DiscoveryError, match="'a b' is not a valid source name"):
        discover([tmp_path / "a"], source_name="a b")


@pytest.mark.timeout(60)  # reading a FIFO would block for ever
def test_fifos_devices_and_links_that_cannot_be_read_are_skipped_with_a_reason(
        tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "real.md").write_text("# Real\n")
    os.mkfifo(folder / "pipe")
    (folder / "zero").symlink_to("/dev/zero")
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "gone.md").symlink_to(folder / "deleted.md")
    (folder / "to-pipe").symlink_to(folder / "pipe")
    (folder / "sub").symlink_to(tmp_path, target_is_directory=True)
    (folder / "alias.md").symlink_to(folder / "real.md")

    found = discover([folder])

    assert sources(found) == ["alias.md", "real.md"]  # a link to a file is followed
    reasons = {Path(s.path).name: s.reason for s in found.skipped}
    assert reasons == {
        "pipe": "not a regular file: it is a named pipe (FIFO)",
        "zero": "a symbolic link to a character device (-> /dev/zero)",
        "loop": f"a symbolic link loop (-> {folder / 'loop'})",
        "gone.md": f"a dangling symbolic link (-> {folder / 'deleted.md'}, which does not exist)",
        "to-pipe": f"a symbolic link to a named pipe (FIFO) (-> {folder / 'pipe'})",
        "sub": f"a symbolic link to a folder (-> {tmp_path}); links to folders are not followed",
    }


@pytest.mark.timeout(60)  # reading a FIFO would block for ever
def test_a_fifo_or_a_device_link_given_by_name_is_unusable(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "zero").symlink_to("/dev/zero")
    found = discover([tmp_path / "pipe", tmp_path / "zero"])
    assert found.files == []
    assert [u.reason for u in found.unusable] == [
        "not a regular file: it is a named pipe (FIFO)",
        "a symbolic link to a character device (-> /dev/zero)"]


def test_confined_discovery_refuses_paths_and_links_leading_outside(tmp_path: Path) -> None:
    allowed, secret = tmp_path / "allowed", tmp_path / "secret"
    (allowed / "docs").mkdir(parents=True)
    secret.mkdir()
    (secret / "keys.md").write_text("secret\n")
    (allowed / "docs" / "ok.md").write_text("fine\n")
    (allowed / "docs" / "keys.md").symlink_to(secret / "keys.md")
    found = discover([allowed / "docs", allowed / ".." / "secret"], confine_to=[allowed])
    assert sources(found) == ["ok.md"]
    assert [s.reason for s in found.skipped] == [
        f"a symbolic link to {secret / 'keys.md'}, outside the folders ingest may read"]
    [refused] = found.unusable
    assert "is outside the folders open to ingest" in refused.reason


def test_a_folder_that_cannot_be_listed_is_reported_and_its_source_not_pruned(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tree / "guide"
    listing = os.scandir

    def scandir(path):  # what a folder without read permission does (root may read any)
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = discover([tree])
    assert [s.path for s in found.skipped] == [str(locked)]
    assert found.skipped[0].reason == ("cannot list the folder (so --prune leaves this source "
                                       "alone): Permission denied")
    assert "guide/intro.md" not in sources(found) and found.synced == set()
