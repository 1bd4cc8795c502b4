"""es-rag on what current Elasticsearch offers, as processes on the embedded engine: inference
endpoints as assets, the three embedding modes (`local`, `cluster`, `semantic_text`), the
cluster's `text_similarity_reranker`, and the fallbacks once the license is switched to basic.

One engine (trial license, as it starts) serves the whole story in order: docs/ is ingested
once; the other modes ingest a small folder (switching mode re-versions the chunk index, whose
chunks the cluster embeds again where the mode needs it).
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from es_rag_processes import engine_env, run, working_copy

from es_rag.config import PROJECT_ROOT
from tests.cli.test_commands_as_processes import _get, serving

QUESTION = "How does es-rag fuse BM25 and kNN results?"
RERANK_ENDPOINT = {"task_type": "rerank", "service": "test_reranking_service",
                   "service_settings": {"model_id": "deterministic-reranker", "api_key": "abc"},
                   "task_settings": {}}


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A working copy with the shipped inference endpoint, a rerank endpoint named by
    retrieval.json's `rerank.inference_id`, a small folder to ingest; one engine."""
    root = working_copy(tmp_path_factory.mktemp("current-es") / "project")
    (root / "inference" / "es-rag-rerank.json").write_text(json.dumps(RERANK_ENDPOINT))
    # the shipped MiniLM endpoint under another id, which ES_RAG_SEMANTIC_INFERENCE_ID names
    shutil.copy2(root / "inference" / "es-rag-minilm.json",
                 root / "inference" / "story-minilm.json")
    retrieval = json.loads((PROJECT_ROOT / "retrieval.json").read_text())
    retrieval["rerank"]["inference_id"] = "es-rag-rerank"
    (root / "retrieval.json").write_text(json.dumps(retrieval, indent=2))
    small = root / "small"
    small.mkdir()
    shutil.copy2(root / "docs" / "retrieval.md", small / "retrieval.md")
    env = engine_env(root / ".es-rag", root)
    yield env
    run("engine", "stop", env=env)


def _ok(*args: str, env: dict[str, str]) -> str:
    done = run(*args, env=env, timeout=600)
    assert done.returncode == 0, f"es-rag {' '.join(args)}: {done.stderr}\n{done.stdout}"
    return done.stdout


def _applied_and_settled(env: dict[str, str]) -> str:
    applied = _ok("apply", "--yes", env=env)
    assert json.loads(_ok("plan", "--json", env=env)) == {"changes": []}
    return applied


def _answer(env: dict[str, str], *extra: str) -> tuple[dict, str]:
    """`ask --json --explain`: the answer (its citations checked), and how retrieval ran."""
    done = run("ask", QUESTION, "--json", "--explain", *extra, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["citations"], answer
    for citation in answer["citations"]:  # verified: the quote is in the passage cited
        cited = next(s for s in answer["sources"] if s["chunk_id"] == citation["chunk_id"])
        assert citation["quote"] and citation["quote"] in cited["text"]
        assert citation["offsets"] and citation["offsets"]["end"] > citation["offsets"]["start"]
    retrieval = [line for line in done.stderr.splitlines() if line.startswith("retrieval:")]
    assert len(retrieval) == 1, done.stderr
    return answer, retrieval[0]


def _evaluated_and_served(env: dict[str, str], relevant: str) -> None:
    """`eval --judgments` measures the live index, and `serve`'s /api/search searches it, on
    the same path as the CLI."""
    judgments = Path(env["ES_RAG_ASSETS"]) / "judgments"
    judgments.mkdir(exist_ok=True)
    (judgments / "story.qrels").write_text(f"q1 0 {relevant} 1\n")
    (judgments / "story-queries.jsonl").write_text(json.dumps({"_id": "q1", "text": QUESTION}))
    report = json.loads(_ok("eval", "--judgments", str(judgments / "story.qrels"), "--json",
                            env=env))
    assert next(iter(report["configs"].values()))["ndcg@10"] > 0, report
    password = (Path(env["ES_RAG_DATA"]) / "elastic-password").read_text().strip()
    credentials = base64.b64encode(f"elastic:{password}".encode()).decode()
    query = json.dumps({"query": QUESTION, "explain": True}).encode()
    with serving("serve", env=env) as (url, _process):
        status, _, body = _get(f"{url}/api/search", data=query, method="POST",
                               headers={"Content-Type": "application/json",
                                        "Authorization": f"Basic {credentials}"})
    assert status == 200, body
    found = json.loads(body)
    assert found["hits"] and found["explain"]["embedded_by"] == "semantic_text"


def _client(env: dict[str, str]) -> Elasticsearch:
    data = Path(env["ES_RAG_DATA"])
    url = f"http://127.0.0.1:{env['ES_RAG_ENGINE_PORT']}"
    return Elasticsearch(url, basic_auth=("elastic", (data / "elastic-password").read_text()
                                          .strip()))


def test_every_embedding_mode_answers_with_citations_then_falls_back_on_basic(
        story: dict[str, str]) -> None:
    local = story
    semantic = {**story, "ES_RAG_EMBEDDING": "semantic_text",
                "ES_RAG_SEMANTIC_INFERENCE_ID": "story-minilm"}
    cluster = {**story, "ES_RAG_EMBEDDING": "cluster",
               "ES_RAG_EMBEDDING_MODEL_ID": "es-rag-story-minilm"}

    # local: the rerank endpoint is applied (retrieval.json names it), the MiniLM one is not
    applied = _applied_and_settled(local)
    assert "create inference es-rag-rerank" in applied
    assert "es-rag-minilm" not in applied
    _ok("ingest", str(Path(local["ES_RAG_ASSETS"]) / "docs"), env=local)
    answer, line = _answer(local, "--mode", "hybrid+rerank")
    assert answer["retrieval"]["path"] == "retriever"
    assert line.startswith("retrieval: path retriever (rrf)")
    assert "rerank text_similarity_reranker in the cluster (endpoint es-rag-rerank)" in line
    status = _ok("status", env=local)
    assert "text_similarity_reranker in the cluster (endpoint es-rag-rerank)" in status

    # cluster: the bundled model uploaded as a trained model, the cluster embeds
    _ok("model", "upload", env=cluster)
    _applied_and_settled(cluster)
    _ok("ingest", str(Path(story["ES_RAG_ASSETS"]) / "small"), env=cluster)
    answer, line = _answer(cluster)
    assert "query embedded by the cluster" in line

    # semantic_text: the endpoint is created, the chunk index re-versioned with the field
    applied = _applied_and_settled(semantic)
    assert "create inference story-minilm" in applied and "es-rag-minilm" not in applied
    assert "new_version index chunks" in applied
    mapping = _client(story).indices.get_mapping(index="chunks").body
    fields = next(iter(mapping.values()))["mappings"]["properties"]
    assert fields["text_semantic"]["type"] == "semantic_text"
    assert fields["text_semantic"]["inference_id"] == "story-minilm"
    assert fields["text"]["copy_to"] == ["text_semantic"]
    _ok("ingest", str(Path(story["ES_RAG_ASSETS"]) / "small"), env=semantic)
    answer, line = _answer(semantic)
    assert answer["retrieval"]["embedded_by"] == "semantic_text"
    assert "vector leg semantic query on text_semantic" in line
    searched = json.loads(_ok("search", QUESTION, "--json", "--mode", "knn", env=semantic))
    assert searched["hits"] and searched["path_used"] == "knn"
    linear = _ok("search", QUESTION, "--explain", "--fusion", "linear", env=semantic)
    assert "retrieval: path linear_retriever (linear); vector leg semantic query" in linear
    _evaluated_and_served(semantic, searched["hits"][0]["doc_id"])

    # basic: the same commands through the fallbacks, and status says what is lacking
    _client(story).license.post_start_basic(acknowledge=True)
    status = _ok("status", env=semantic)
    lacks = next(line for line in status.splitlines() if line.startswith("license_lacks"))
    for feature in ("rrf retriever", "linear retriever", "text_similarity_reranker",
                    "semantic_text inference"):
        assert feature in lacks
    assert "semantic_text: text_semantic on endpoint story-minilm (semantic query); the " \
           "basic license lacks inference: search is lexical only and ingest is refused" in status
    assert "es-rag (client-side): the basic license lacks text_similarity_reranker" in status
    assert json.loads(_ok("plan", "--json", env=semantic)) == {"changes": []}

    answer, line = _answer(local, "--mode", "hybrid+rerank")
    assert answer["retrieval"]["path"] == "client_rrf"
    assert "rerank embedding in es-rag" in line
    assert "rerank fallback: the basic license lacks text_similarity_reranker" in line

    answer, line = _answer(semantic)
    assert "fallback from semantic: the basic license lacks inference" in line
    refused = run("ingest", str(Path(story["ES_RAG_ASSETS"]) / "small"), "--force",
                  env=semantic)
    assert refused.returncode == 1
    assert "lacks inference into semantic_text" in refused.stderr
    assert 'set embedding = "local"' in refused.stderr

    # an endpoint not yet in the cluster cannot be created on basic: apply says why, and the
    # index keeps serving the version it served
    refused = run("apply", "--yes", env={**semantic,
                                         "ES_RAG_SEMANTIC_INFERENCE_ID": "es-rag-minilm"})
    assert refused.returncode == 1
    assert "applying inference es-rag-minilm failed: 403" in refused.stderr
    assert "basic license lacks inference endpoints" in refused.stderr
    assert json.loads(_ok("plan", "--json", env=semantic)) == {"changes": []}

    refused = run("ask", QUESTION, env=cluster)
    assert refused.returncode == 1
    assert "needs machine learning in the cluster" in refused.stderr
