"""Assets as code from the command line, as processes on the embedded engine with security on:
`apply` then `plan` settles, and index versions go forward, back and away."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from es_rag_processes import engine_env, run, working_copy

NOTES_MAPPING = {"settings": {"number_of_shards": 1},
                 "mappings": {"properties": {"text": {"type": "text", "analyzer": "standard"}}}}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh engine (security on, as `es-rag` starts it) and a working copy of the project."""
    root = working_copy(tmp_path_factory.mktemp("assets-cli") / "project")
    env = engine_env(root / ".es-rag", root)
    yield env
    run("engine", "stop", env=env)


def test_apply_then_plan_shows_no_change_with_security_on(secured: dict[str, str]) -> None:
    applied = run("apply", "--yes", env=secured)
    assert applied.returncode == 0, applied.stderr
    for role in ("es-rag-admin", "es-rag-reader"):
        assert f"create role {role}" in applied.stdout

    planned = run("plan", env=secured)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.strip() == "The cluster matches the files: nothing to change."
    as_json = run("plan", "--json", env=secured)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {"changes": []}
    again = run("apply", "--yes", env=secured)
    assert again.returncode == 0 and "applied" not in again.stdout


def test_plan_shows_a_real_role_change_and_apply_settles_it(secured: dict[str, str]) -> None:
    assert run("apply", "--yes", env=secured).returncode == 0
    role_file = Path(secured["ES_RAG_ASSETS"]) / "roles" / "es-rag-reader.json"
    original = role_file.read_text()
    role = json.loads(original)
    role["indices"][0]["privileges"] = ["read", "view_index_metadata"]
    role_file.write_text(json.dumps(role, indent=2))
    try:
        planned = json.loads(run("plan", "--json", env=secured).stdout)["changes"]
        assert [(c["action"], c["kind"], c["name"]) for c in planned] == [
            ("update", "role", "es-rag-reader")]
        changed = [line for line in planned[0]["diff"].splitlines()
                   if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        assert changed == ['-        "read"', '+        "read",', '+        "view_index_metadata"']
        assert run("apply", "--yes", env=secured).returncode == 0
        assert json.loads(run("plan", "--json", env=secured).stdout) == {"changes": []}
    finally:
        role_file.write_text(original)
        run("apply", "--yes", env=secured)


def test_versions_go_forward_back_and_are_pruned(secured: dict[str, str],
                                                tmp_path: Path) -> None:
    assets = tmp_path / "notes-assets"
    (assets / "mappings").mkdir(parents=True)
    mapping = assets / "mappings" / "notes.json"
    body = json.loads(json.dumps(NOTES_MAPPING))
    mapping.write_text(json.dumps(body))
    env = {**secured, "ES_RAG_ASSETS": str(assets)}
    assert "create index notes -> notes-v1" in run("apply", "--yes", env=env).stdout

    body["mappings"]["properties"]["text"]["analyzer"] = "english"
    mapping.write_text(json.dumps(body))
    planned = run("plan", env=env)
    assert "new_version index notes -> notes-v2: incompatible: field 'text': analyzer " \
           "'standard' -> 'english'" in planned.stdout
    assert run("apply", "--yes", env=env).returncode == 0

    back = run("rollback", "--alias", "notes", env=env)
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip() == "notes: notes-v2 -> notes-v1"
    assert "new_version index notes -> notes-v3" in run("apply", "--yes", env=env).stdout

    pruned = run("prune-versions", "--alias", "notes", "--keep", "1", env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.strip() == "deleted: notes-v1"
    assert run("rollback", "--alias", "notes", env=env).stdout.strip() == \
        "notes: notes-v3 -> notes-v2"
    nothing_older = run("rollback", "--alias", "notes", env=env)
    assert nothing_older.returncode == 1
    assert "notes serves notes-v2; there is no earlier version to go back to" in \
        nothing_older.stderr
    assert "Traceback" not in nothing_older.stderr
