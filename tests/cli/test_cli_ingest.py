"""`es-rag ingest` as a user runs it: named sources, every bad path and file reported, the exit
status, limits on what is read, and what readers see of chunks without an ACL."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_cli import _free_port, run


def report_of(result) -> dict:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One private engine with the assets applied, for the tests of this module.

    Each test names its folders apart (`folders`), so their sources never meet.
    """
    env = {"ES_RAG_DATA": str(tmp_path_factory.mktemp("engine") / "data"),
           "ES_RAG_ENGINE_PORT": str(_free_port())}
    result = run("apply", "--yes", env=env)
    assert result.returncode == 0, result.stderr
    yield env
    run("engine", "stop", env=env)


@pytest.fixture
def folders(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, Path]:
    """Folders <test>-a and <test>-b that both hold a good.txt, and one more file each."""
    tag = request.node.name.removeprefix("test_")[:40]
    a, b = tmp_path / f"{tag}-a", tmp_path / f"{tag}-b"
    for folder, other in ((a, "one.txt"), (b, "two.txt")):
        folder.mkdir()
        side = folder.name[-1]
        (folder / "good.txt").write_text(f"The good file of folder {side} in {tag}.\n")
        (folder / other).write_text(f"Another file kept in folder {side} in {tag}.\n")
    return a, b


def test_two_folders_with_same_named_files_keep_both_and_prune_only_their_own(
        applied: dict[str, str], folders: tuple[Path, Path]) -> None:
    a, b = folders
    assert report_of(run("ingest", str(a), "--json", env=applied))["files"]["parsed"] == 2
    namesake = a.parent / "elsewhere" / a.name
    namesake.mkdir(parents=True)
    (namesake / "good.txt").write_text("A namesake folder's good file.\n")
    refused = run("ingest", str(namesake), "--prune", env=applied)
    assert refused.returncode == 1
    assert f"already holds documents ingested from {a}, which is still there" in refused.stderr
    second = report_of(run("ingest", str(b), "--json", env=applied))
    assert second["chunks"] == {"indexed": 2, "failed": 0, "deleted": 0}

    found = run("search", "good file of folder", "--mode", "bm25", "--size", "50", "--json",
                env=applied)
    texts = {h["text"] for h in json.loads(found.stdout)["hits"]}
    assert {f"The good file of folder {side} in {a.name[:-2]}." for side in "ab"} <= texts

    (b / "two.txt").unlink()
    pruned = run("ingest", str(b), "--prune", "--json", env=applied)
    assert pruned.returncode == 0, pruned.stderr
    assert report_of(pruned)["files"]["pruned"] == 1
    again = report_of(run("ingest", str(a), "--json", env=applied))
    assert again["files"]["unchanged"] == 2 and again["files"]["parsed"] == 0


def test_a_source_name_can_be_given_and_two_roots_cannot_share_one(
        applied: dict[str, str], folders: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = folders
    refused = run("ingest", str(a), str(b), "--source", "shared", env=applied)
    assert refused.returncode == 1
    assert "would both be source 'shared'" in refused.stderr and "Traceback" not in refused.stderr
    same_name = tmp_path / "elsewhere" / a.name
    same_name.mkdir(parents=True)
    (same_name / "good.txt").write_text("Another good file.\n")
    twice = run("ingest", str(a), str(same_name), env=applied)
    assert twice.returncode == 1 and f"would both be source '{a.name}'" in twice.stderr
    bad = run("ingest", str(a), "--source", "my docs", env=applied)
    assert bad.returncode == 1 and "'my docs' is not a valid source name" in bad.stderr

    named = run("ingest", str(a), env={**applied, "ES_RAG_INGEST_SOURCE": "handbook"})
    assert named.returncode == 0, named.stderr
    copy = tmp_path / "copy-of-a"
    a.rename(copy)
    moved = report_of(run("ingest", str(copy), "--source", "handbook", "--json", env=applied))
    assert moved["files"]["unchanged"] == 2  # same source, same ids: nothing redone


def test_bad_paths_and_files_are_each_reported_the_rest_indexed_and_the_exit_status_is_1(
        applied: dict[str, str], folders: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = folders
    (a / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    missing = tmp_path / "missing"

    result = run("ingest", str(missing), str(a), "--json", env=applied)

    assert result.returncode == 1
    report = report_of(result)
    assert report["files"]["parsed"] == 2 and report["files"]["failed"] == 2
    assert {(f["path"], f["reason"]) for f in report["failures"]} >= {
        (str(missing), "no such file or folder")}
    assert f"failed: {missing}: no such file or folder" in result.stderr
    assert "failed: broken.pdf: Tika could not parse the file" in result.stderr

    (a / "broken.pdf").unlink()
    clean = run("ingest", str(a), env=applied)
    assert clean.returncode == 0, clean.stderr
    assert "Exit status: 0 when every file was indexed" in run("ingest", "--help").stdout


def test_fifos_and_links_are_skipped_with_their_reason_instead_of_hanging(
        applied: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "real.md").write_text("# Real\n\nA real document.\n")
    os.mkfifo(folder / "pipe")
    (folder / "zero").symlink_to("/dev/zero")
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "gone.md").symlink_to(folder / "deleted.md")

    result = run("ingest", str(folder), "--json", env=applied, timeout=90)

    assert result.returncode == 0, result.stderr
    report = report_of(result)
    assert (report["files"]["parsed"], report["files"]["skipped"]) == (1, 4)
    assert {Path(s["path"]).name for s in report["skipped"]} == {"pipe", "zero", "loop",
                                                                  "gone.md"}
    assert "pipe: not a regular file: it is a named pipe (FIFO)" in result.stderr
    assert "zero: a symbolic link to a character device (-> /dev/zero)" in result.stderr
    assert "loop: a symbolic link loop" in result.stderr
    assert "gone.md: a dangling symbolic link" in result.stderr


def test_text_over_the_configured_limit_is_cut_and_said(applied: dict[str, str],
                                                         tmp_path: Path) -> None:
    folder = tmp_path / "long-texts"
    folder.mkdir()
    (folder / "long.txt").write_text("Plenty of words in a long file. " * 200)

    result = run("ingest", str(folder), "--json",
                 env={**applied, "ES_RAG_INGEST_MAX_CHARS": "1000"})

    assert result.returncode == 0, result.stderr
    [warning] = report_of(result)["warnings"]
    assert warning["reason"] == "the text was cut at 1,000 characters"
    assert "warning: long.txt: the text was cut at 1,000 characters" in result.stderr


def test_chunks_ingested_without_an_acl_are_invisible_to_readers(
        applied: dict[str, str], folders: tuple[Path, Path]) -> None:
    a, b = folders
    assert run("ingest", str(a), env=applied).returncode == 0
    assert run("ingest", str(b), "--allow", "public", env=applied).returncode == 0
    assert run("users", "add", "dave", "--password", "s3cret-pass", env=applied).returncode == 0

    found = run("search", "good file of folder", "--mode", "bm25", "--as-user", "dave",
                "--size", "50", "--json", env=applied)
    texts = {h["text"] for h in json.loads(found.stdout)["hits"]}
    tag = a.name[:-2]
    assert f"The good file of folder b in {tag}." in texts  # allowed to public
    assert not [t for t in texts if "folder a" in t]  # no acl: no reader sees it
    asked = run("ask", f"What is in folder a in {tag}?", "--as-user", "dave", "--json",
                env=applied)
    assert "folder a" not in json.dumps(json.loads(asked.stdout)["citations"])
