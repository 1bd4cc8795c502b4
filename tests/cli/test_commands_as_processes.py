"""Commands a user runs, each as a process on the embedded engine: the demo, the engine, users,
evaluation, the admin UI and API servers, and the model upload for cluster-side embedding."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cluster_model_fixture import CLUSTER_MODEL_ID
from es_rag_processes import ES_RAG, DocsEngine, free_port, process_env, run


def test_engine_start_then_demo_answer_from_the_docs_with_citations(
        docs_engine: DocsEngine) -> None:
    started = docs_engine.outputs["engine start"]
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("engine running at http://127.0.0.1:")
    assert f"password of the 'elastic' superuser: {docs_engine.password}" in started.stdout
    again = run("engine", "start", env=docs_engine.env)
    assert again.returncode == 0 and "password" not in again.stdout

    demo = docs_engine.outputs["demo"]
    assert demo.returncode == 0, demo.stderr
    assert re.search(r"^2\. assets applied: [1-9]\d* change\(s\)$", demo.stdout, re.MULTILINE)
    assert "4. question: How does es-rag combine BM25 and kNN results in hybrid search?" \
        in demo.stdout
    answer, sources = demo.stdout.split("\nSources:\n", 1)
    cited = re.findall(r"^  \[(\d+)\] .+\.md\)$", sources, re.MULTILINE)
    assert cited, sources
    assert all(f"[{n}]" in answer for n in cited)
    assert "BM25" in answer and "```" not in answer and "<!--" not in answer


def test_users_are_added_listed_and_deleted(docs_engine: DocsEngine) -> None:
    env = docs_engine.env
    added = run("users", "add", "erin", "--group", "support", env=env,
                input_text="erin-pass-1\nerin-pass-1\n")
    assert added.returncode == 0, added.stderr
    assert "user erin: roles es-rag-reader; groups support" in added.stdout
    assert "erin" in [u["username"] for u in json.loads(run("users", "list", "--json",
                                                            env=env).stdout)]
    deleted = run("users", "delete", "erin", env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == "user erin deleted"
    assert "erin" not in [u["username"] for u in json.loads(run("users", "list", "--json",
                                                                env=env).stdout)]
    missing = run("users", "delete", "erin", env=env)
    assert missing.returncode == 1 and "erin" in missing.stderr
    assert "Traceback" not in missing.stderr


def _tiny_beir(root: Path) -> Path:
    docs = {"d1": "Solar panels convert sunlight into electricity.",
            "d2": "Wind turbines turn the kinetic energy of wind into power.",
            "d3": "Bread is baked from flour, water, yeast and salt."}
    queries = {"q1": "how do solar panels make electricity", "q2": "what is bread made of"}
    root.mkdir()
    (root / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()))
    (root / "queries.jsonl").write_text("".join(
        json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()))
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    return root


def test_eval_measures_a_dataset_and_prints_json(docs_engine: DocsEngine,
                                                  tmp_path: Path) -> None:
    dataset = _tiny_beir(tmp_path / "tiny")
    result = run("eval", "--dataset", str(dataset), "--configs", "bm25", "--json",
                 env=docs_engine.env)
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["configs"]["bm25"]["ndcg@10"] == 1.0


@contextmanager
def serving(*args: str, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`es-rag ARGS --port P` as a background process; yields its base URL; stopped after."""
    port = free_port()
    process = subprocess.Popen([*ES_RAG, *args, "--port", str(port)], env=process_env(env),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _get(url: str, timeout: float = 90, **request: Any) -> tuple[int, str, str]:
    """Status, final URL and body of a request, retried until the server answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, **request),
                                        timeout=30) as response:
                return response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, url, error.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_ui_serves_the_admin_ui_behind_a_login(docs_engine: DocsEngine) -> None:
    with serving("ui", env=docs_engine.env) as (url, process):
        status, final_url, page = _get(f"{url}/overview")
        assert process.poll() is None
    assert status == 200 and "/auth/login" in final_url
    assert 'name="password"' in page


def test_serve_answers_searches_as_the_user_who_asks(docs_engine: DocsEngine) -> None:
    credentials = base64.b64encode(f"elastic:{docs_engine.password}".encode()).decode()
    query = json.dumps({"query": "reciprocal rank fusion", "mode": "bm25", "size": 2}).encode()
    with serving("serve", env=docs_engine.env) as (url, _process):
        status, _, spec = _get(f"{url}/api/openapi.json")
        assert status == 200 and "/api/search" in json.loads(spec)["paths"]
        anonymous, _, _ = _get(f"{url}/api/search", data=query, method="POST",
                               headers={"Content-Type": "application/json"})
        status, _, body = _get(f"{url}/api/search", data=query, method="POST",
                               headers={"Content-Type": "application/json",
                                        "Authorization": f"Basic {credentials}"})
    assert anonymous == 401
    assert status == 200, body
    assert json.loads(body)["hits"][0]["source"].endswith(".md")


def test_model_upload_keeps_an_uploaded_model_and_starts_it(engine: Any, cluster_model: Any,
                                                            tmp_path: Path) -> None:
    result = run("--url", engine.url, "model", "upload",
                 env={"ES_RAG_DATA": str(tmp_path / "data"),
                      "ES_RAG_EMBEDDING_MODEL_ID": cluster_model.model_id})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"model {CLUSTER_MODEL_ID}: already in the cluster (--replace uploads it again); "
        "deployment started")
    bad = run("--url", engine.url, "model", "upload", "--model-id", "Not An Id",
              env={"ES_RAG_DATA": str(tmp_path / "data")})
    assert bad.returncode == 2 and "--model-id" in bad.stderr
