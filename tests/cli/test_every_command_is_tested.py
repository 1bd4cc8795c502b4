"""Every `es-rag` command has a test that runs it as a process: a registry says which test, and
this module checks the registry against the command tree and the tests themselves.

A new command (or one a test no longer covers) fails here until PROCESS_TESTS names a test that
runs it as `[sys.executable, "-m", "es_rag", ...]` (directly, or through tests/es_rag_processes).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator

import click

from es_rag.cli import cli
from es_rag.config import PROJECT_ROOT

CLI = "tests/cli/test_cli.py"
ASSETS = "tests/cli/test_assets_commands.py"
PROCESSES = "tests/cli/test_commands_as_processes.py"
TUNE_EVAL = "tests/cli/test_tune_and_eval_cli.py"
TWO_FOLDERS = ("tests/cli/test_cli_ingest.py::"
               "test_two_folders_with_same_named_files_keep_both_and_prune_only_their_own")
USERS = f"{PROCESSES}::test_users_are_added_listed_and_deleted"
DEMO = f"{PROCESSES}::test_engine_start_then_demo_answer_from_the_docs_with_citations"
STATUS = f"{CLI}::test_status_starts_the_engine_and_reports_its_capabilities"
USER_STORY = f"{CLI}::test_apply_ingest_search_and_ask_as_a_user_would"
FINETUNE = "tests/cli/test_finetune_commands.py"

# command -> the test that runs it as a process
PROCESS_TESTS = {
    "status": STATUS,
    "plan": f"{ASSETS}::test_apply_then_plan_shows_no_change_with_security_on",
    "apply": f"{ASSETS}::test_apply_then_plan_shows_no_change_with_security_on",
    "rollback": f"{ASSETS}::test_versions_go_forward_back_and_are_pruned",
    "prune-versions": f"{ASSETS}::test_versions_go_forward_back_and_are_pruned",
    "ingest": TWO_FOLDERS,
    "search": USER_STORY,
    "ask": USER_STORY,
    "demo": DEMO,
    "eval": f"{PROCESSES}::test_eval_measures_a_dataset_and_prints_json",
    "tune": f"{TUNE_EVAL}::test_tune_runs_with_and_without_a_grid_and_writes_retrieval_json",
    "ui": f"{PROCESSES}::test_ui_serves_the_admin_ui_behind_a_login",
    "serve": f"{PROCESSES}::test_serve_answers_searches_as_the_user_who_asks",
    "finetune embeddings": f"{FINETUNE}::test_finetune_embeddings_writes_a_model_with_manifest_"
                           "and_int8_export",
    "finetune reranker": f"{FINETUNE}::test_finetune_reranker_trains_a_cross_encoder_hybrid_"
                         "rerank_can_use",
    "finetune activate": f"{FINETUNE}::test_finetune_reranker_trains_a_cross_encoder_hybrid_"
                         "rerank_can_use",
    "model upload": f"{PROCESSES}::test_model_upload_keeps_an_uploaded_model_and_starts_it",
    "users add": USERS,
    "users list": USERS,
    "users delete": USERS,
    "engine start": DEMO,
    "engine stop": STATUS,
    "engine status": STATUS,
    "inspect": "tests/sources/test_existing_indices.py::"
               "test_inspect_proposes_the_definition_of_each_index",
}
# command -> why no process test covers it yet (each entry is a debt, reported as a warning)
AWAITING: dict[str, str] = {}
# How a test module runs es-rag as a process (test_cli's `run` is `python -m es_rag`).
PROCESS_MARKS = ('"-m", "es_rag"', "es_rag_processes", "from .test_cli import")


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """Every runnable command under `group`, as the words a user types (`users add`)."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name))


def _test_function(node_id: str) -> tuple[str, ast.FunctionDef | None]:
    path, _, name = node_id.partition("::")
    source = (PROJECT_ROOT / path).read_text(encoding="utf-8")
    found = next((node for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.FunctionDef) and node.name == name), None)
    return source, found


def _words_in_strings(function: ast.FunctionDef) -> set[str]:
    return {word for node in ast.walk(function)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            for word in node.value.split()}


def test_every_command_has_a_process_test_in_the_registry() -> None:
    commands = set(command_paths(cli))
    missing = sorted(commands - set(PROCESS_TESTS) - set(AWAITING))
    assert missing == [], f"commands with no process test: add them to PROCESS_TESTS: {missing}"
    stale = sorted((set(PROCESS_TESTS) | set(AWAITING)) - commands)
    assert stale == [], f"the registry names commands that no longer exist: {stale}"
    for command, why in AWAITING.items():
        warnings.warn(f"`es-rag {command}` has no process test yet: {why}", stacklevel=1)


def test_every_registered_test_exists_and_runs_its_command_as_a_process() -> None:
    problems = []
    for command, node_id in PROCESS_TESTS.items():
        module, function = _test_function(node_id)
        if function is None:
            problems.append(f"{command}: {node_id} does not exist")
            continue
        if not any(mark in module for mark in PROCESS_MARKS):
            problems.append(f"{command}: {node_id.partition('::')[0]} runs no process")
        absent = set(command.split()) - _words_in_strings(function)
        if absent:
            problems.append(f"{command}: {node_id} never names {sorted(absent)}")
    assert problems == []
