"""The es-rag command line as a user runs it: a real process, the embedded engine, clear errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from es_rag.engine.security import PASSWORD_FILE

ES_RAG = [sys.executable, "-m", "es_rag"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ES_RAG, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def engine_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings for a private embedded engine, stopped after the test."""
    env = {"ES_RAG_DATA": str(tmp_path / "data"), "ES_RAG_ENGINE_PORT": str(_free_port())}
    env.pop("ES_RAG_URL", None)
    yield env
    run("engine", "stop", env=env)


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("status", "plan", "apply", "ingest", "search", "ask", "demo", "engine"):
        assert command in result.stdout


def test_status_starts_the_engine_and_reports_its_capabilities(engine_env) -> None:
    result = run("status", "--json", env=engine_env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    caps = report["capabilities"]
    assert caps["engine"] == "embedded"
    assert caps["url"].endswith(":" + engine_env["ES_RAG_ENGINE_PORT"])
    assert caps["hybrid_path"] == "retriever"
    assert report["settings"]["data"] == engine_env["ES_RAG_DATA"]

    state = run("engine", "status", env=engine_env)
    assert state.returncode == 0 and "engine running at" in state.stdout
    assert run("engine", "stop", env=engine_env).stdout.strip() == "engine stopped"
    assert run("engine", "status", env=engine_env).returncode == 1


def test_bad_setting_is_one_clear_line(engine_env) -> None:
    result = run("status", env={**engine_env, "ES_RAG_LLM_PROVIDER": "gpt"})
    assert result.returncode != 0
    assert "ES_RAG_LLM_PROVIDER: 'gpt' is not one of extractive, openai, local" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_cluster_is_one_clear_line() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    result = run("status", env={"ES_RAG_URL": url})
    assert result.returncode != 0
    assert f"cannot reach Elasticsearch at {url}: connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_apply_ingest_search_and_ask_as_a_user_would(engine_env, tmp_path: Path) -> None:
    corpus = tmp_path / "handbook"
    corpus.mkdir()
    (corpus / "leave.md").write_text(
        "# Leave policy\n\nEmployees request annual leave in the HR portal at least two weeks "
        "ahead. Managers approve leave requests within three working days.\n")
    (corpus / "travel.md").write_text(
        "# Travel\n\nBook flights through the travel desk. Economy class is the default for "
        "flights shorter than six hours.\n")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    rules = tmp_path / "acl.yaml"
    rules.write_text("leave.md: [hr, alice]\n'**': [public]\n")

    assert run("apply", "--yes", env=engine_env).returncode == 0
    ingested = run("ingest", str(corpus), "--acl", str(rules), "--json", env=engine_env)
    assert ingested.returncode == 1, ingested.stderr  # broken.pdf failed, the rest is indexed
    report = json.loads(ingested.stdout.splitlines()[-1])
    assert report["files"] == {"seen": 3, "parsed": 2, "unchanged": 0, "failed": 1,
                               "pruned": 0, "skipped": 0}
    assert report["failures"][0]["path"].endswith("broken.pdf")

    found = run("search", "how do I request annual leave", "--mode", "bm25", "--json",
                env=engine_env)
    hits = json.loads(found.stdout.splitlines()[-1])["hits"]
    assert hits[0]["source"].endswith("leave.md")
    assert sorted(hits[0]["acl"]) == ["alice", "hr"]
    templated = run("search", "how do I request annual leave", "--template", "bm25",
                    "--params", '{"size": 3}', "--json", env=engine_env)
    assert templated.returncode == 0, templated.stderr
    result = json.loads(templated.stdout.splitlines()[-1])
    assert result["path_used"] == "template"
    assert [h["chunk_id"] for h in result["hits"]] == [h["chunk_id"] for h in hits[:3]]

    asked = run("ask", "Who approves leave requests?", "--json", env=engine_env)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout.splitlines()[-1])
    assert answer["extractive"] is True
    assert "three working days" in answer["answer"]
    assert answer["citations"][0]["source"].endswith("leave.md")

    again = run("ingest", str(corpus), "--acl", str(rules), "--json", env=engine_env)
    assert json.loads(again.stdout.splitlines()[-1])["files"]["unchanged"] == 2

    for user, groups in (("carol", ["--group", "hr"]), ("dave", [])):
        added = run("users", "add", user, "--password", "s3cret-pass", *groups, env=engine_env)
        assert added.returncode == 0, added.stderr
    listed = json.loads(run("users", "list", "--json", env=engine_env).stdout)
    assert {u["username"]: u["groups"] for u in listed} == {"carol": ["hr"], "dave": []}

    def sources_seen_by(user: str) -> set[str]:
        result = run("search", "leave travel flights", "--mode", "bm25", "--as-user", user,
                     "--json", env=engine_env)
        assert result.returncode == 0, result.stderr
        return {Path(h["source"]).name for h in json.loads(result.stdout)["hits"]}

    assert sources_seen_by("carol") == {"leave.md", "travel.md"}
    assert sources_seen_by("dave") == {"travel.md"}


def test_an_engine_that_cannot_start_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {"ES_RAG_DATA": str(tmp_path / "data"), "ES_RAG_ENGINE_PORT": str(port)}
        result = run("status", env=env)
    assert result.returncode == 1
    assert "the embedded engine did not start" in result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "ES_RAG_ENGINE_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_fusion_options_and_what_the_license_lacks(engine_env, tmp_path: Path) -> None:
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "fusion.md").write_text("# Fusion\n\nLinear fusion adds normalized scores of the "
                                      "lexical and the vector legs, each with its weight.\n")
    (corpus / "ranks.md").write_text("# Ranks\n\nReciprocal rank fusion adds one over the rank "
                                     "constant plus the rank.\n")
    assert run("apply", "--yes", env=engine_env).returncode == 0
    assert run("ingest", str(corpus), env=engine_env).returncode == 0
    linear = run("search", "how are normalized scores combined", "--fusion", "linear",
                 "--weights", "bm25=1,knn=2", "--normalizer", "l2_norm", "--explain",
                 env=engine_env)
    assert linear.returncode == 0, linear.stderr
    assert "path linear_retriever" in linear.stdout
    assert "fusion=linear weights=bm25=1,knn=2 normalizer=l2_norm" in linear.stdout
    assert "overridden: fusion, normalizer, weights" in linear.stdout
    bad = run("search", "x", "--weights", "bm25=-1", env=engine_env)
    assert bad.returncode == 2 and "weight of 'bm25' must be non-negative" in bad.stderr

    status = run("status", env=engine_env)
    assert "license_lacks      nothing" in status.stdout
    url = json.loads(run("status", "--json", env=engine_env).stdout)["capabilities"]["url"]
    password = (Path(engine_env["ES_RAG_DATA"]) / PASSWORD_FILE).read_text().strip()
    with Elasticsearch(url, basic_auth=("elastic", password)) as es:
        es.license.post_start_basic(acknowledge=True)
    basic = run("status", env=engine_env)
    assert "license_lacks      rrf retriever, linear retriever, text_similarity_reranker" \
        in basic.stdout
    fallback = run("search", "how are normalized scores combined", "--fusion", "linear",
                   "--json", env=engine_env)
    assert json.loads(fallback.stdout)["path_used"] == "client_linear"
