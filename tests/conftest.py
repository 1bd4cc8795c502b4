"""Fixtures shared by every test: an embedded engine on 127.0.0.1, a client for it, the
bundled embedding model uploaded to it as a trained model (`cluster_model`), and an engine run
by es-rag processes with the project's docs ingested (`docs_engine`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cluster_model_fixture import cluster_model  # noqa: F401 - a fixture for every test
from elasticsearch import Elasticsearch
from es_rag_processes import docs_engine  # noqa: F401 - a fixture for every test

if TYPE_CHECKING:
    from es_rag.engine.server import EngineServer

TESTS = Path(__file__).parent
# The files that take a minute or more (on 2 cores), started first: `make test` hands whole files
# to two workers in collection order (--dist loadfile --no-loadscope-reorder), so that none of
# them is left to run alone at the end of the run.
LONGEST_FIRST = (
    "test_conformance.py",
    "cli/test_finetune_commands.py",
    "cli/test_current_elasticsearch_paths.py",
    "sources/test_existing_indices.py",
    "cli/test_tune_and_eval_cli.py",
    "cli/test_rollback_models.py",
    "cli/test_eval_answers.py",
    "browser/test_browser_relevance_loop.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests of the `LONGEST_FIRST` files first, in that order; the rest keep theirs."""
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.relative_to(TESTS).as_posix()
                                         if item.path.is_relative_to(TESTS) else "", len(rank)))


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    """One embedded engine for the whole test session, on a free port and a temporary data dir.

    It runs without security so feature tests need no credentials; security has its own
    engines (tests/security, the API's DLS tests, the conformance run).
    """
    from es_rag.engine.server import EngineServer

    server = EngineServer(tmp_path_factory.mktemp("engine-data"), port=0,
                          security=False).start()
    yield server
    server.stop()


@pytest.fixture
def es(engine: EngineServer) -> Iterator[Elasticsearch]:
    """A client for the session engine with no index; every index is deleted before and after
    the test (before: another test on the session engine may have left one)."""
    client = Elasticsearch(engine.url, request_timeout=30)
    _delete_every_index(client)
    yield client
    _delete_every_index(client)
    client.close()


def _delete_every_index(client: Elasticsearch) -> None:
    client.options(ignore_status=404).indices.delete(
        index="*", expand_wildcards="all", allow_no_indices=True
    )

