"""One source of truth: every setting of retrieval.json reaches every consumer after `apply`.

An admin edits retrieval.json (mode, boosts, k, num_candidates, rank_constant,
rank_window_size, rerank window). Until `apply`, every path keeps answering with what the
cluster stores; after it, the library, `es-rag search` (a process), the HTTP API, the playground,
the stored search templates, `eval` and `tune` all search with, and report, the new values.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from retrieve.corpus import index_corpus, shared_embedder

from es_rag import assets
from es_rag.api import create_api_app
from es_rag.assets import template_defaults
from es_rag.config import PROJECT_ROOT, Settings
from es_rag.connect import detect_capabilities
from es_rag.evaluate import Judgments, evaluate_live, parse_configs
from es_rag.evaluate.run import documents_of
from es_rag.evaluate.tuning import HybridSetting
from es_rag.generate import AskParams, ask
from es_rag.retrieve import Mode, search
from es_rag.retrieve.defaults import STORED_ID, read_file, read_stored

sys.path.insert(0, str(PROJECT_ROOT))
sys.modules.pop("admin_ui", None)
from admin_ui import create_app  # noqa: E402
from admin_ui.playground import Controls  # noqa: E402

INDEX = "params-chunks"
STORED = ("bm25", "hybrid", "knn", STORED_ID)
TUNED = {"mode": "hybrid", "boosts": {"text": 1.0, "title": 2.5, "headings": 1.0},
         "k": 7, "num_candidates": 70, "rank_constant": 20, "rank_window_size": 40,
         "fusion": "rrf", "weights": {"bm25": 1.0, "knn": 2.0}, "normalizer": "minmax",
         "rerank": {"model": None, "top_n": 12, "batch_size": 16, "time_budget_s": 10.0,
                    "backend": "torch", "max_length": 128}}
SHIPPED = read_file(PROJECT_ROOT).values()
QUERY = "quota error when the disk is full"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _tune_file(root: Path) -> None:
    data = json.loads((root / "retrieval.json").read_text())
    data["boosts"]["title"] = TUNED["boosts"]["title"]
    data["knn"] = {"k": TUNED["k"], "num_candidates": TUNED["num_candidates"]}
    data["fusion"].update(rank_constant=TUNED["rank_constant"],
                          rank_window_size=TUNED["rank_window_size"], weights=TUNED["weights"])
    data["rerank"].update({k: TUNED["rerank"][k] for k in ("top_n", "backend", "max_length")})
    (root / "retrieval.json").write_text(json.dumps(data, indent=2))


def _apply(client: Elasticsearch, root: Path) -> list[assets.Change]:
    """`es-rag apply` of what retrieval.json touches (the search templates and the file)."""
    caps = detect_capabilities(client, "", client.info().body, embedded=True)
    loaded = assets.load_assets(root)
    return assets.apply(client, caps, assets.Assets(
        indices=[], pipelines=[], templates=loaded.templates, roles=[],
        retrieval=loaded.retrieval))


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "es_rag", *args], capture_output=True,
                            text=True, timeout=300, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def world(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A chunk index, an assets folder whose retrieval.json is applied as shipped, the env of
    a CLI process for them; the stored scripts are removed afterwards."""
    client = Elasticsearch(engine.url, request_timeout=60)
    index_corpus(client, INDEX)
    root = tmp_path_factory.mktemp("repo")
    for folder in ("mappings", "pipelines", "templates", "roles"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    shutil.copy(PROJECT_ROOT / "retrieval.json", root / "retrieval.json")
    _apply(client, root)
    env = {"ES_RAG_URL": engine.url, "ES_RAG_ASSETS": str(root), "ES_RAG_INDEX": INDEX,
           "ES_RAG_DATA": str(root / ".es-rag")}
    yield {"client": client, "root": root, "env": env, "url": engine.url}
    quiet = client.options(ignore_status=404)
    for name in STORED:
        quiet.delete_script(id=name)
    quiet.indices.delete(index=INDEX)
    client.close()


def test_an_edited_file_changes_nothing_until_applied_then_every_path(world) -> None:
    client, root, env = world["client"], world["root"], world["env"]
    _tune_file(root)
    # saved but not applied: the CLI still searches with what the cluster stores
    before = json.loads(_cli(env, "search", QUERY, "--mode", "bm25", "--json").stdout)
    assert before["explain"]["parameters"]["source"] == "cluster"
    assert before["explain"]["parameters"]["values"]["rank_constant"] == 60

    applied = {(c.kind, c.name) for c in _apply(client, root)}
    assert applied == {("retrieval", STORED_ID), ("template", "hybrid"), ("template", "knn"),
                       ("template", "bm25")}
    caps = detect_capabilities(client, world["url"], client.info().body, embedded=True)
    embedder = shared_embedder()
    from_cluster = {"source": "cluster", "overrides": [], "values": TUNED}

    # the library, without parameters of its own
    result = search(client, caps, INDEX, QUERY, embedder=embedder)
    assert result.explain["parameters"] == from_cluster
    assert result.explain["rank_constant"] == 20
    assert result.hits[0].fused_score >= 1 / (20 + 1) - 1e-9  # fused with 20, not 60
    answer = ask(client, caps, INDEX, QUERY, AskParams(), embedder)
    assert answer.retrieval["parameters"] == from_cluster

    # the CLI as a process: the --explain line, and an override shown as one
    shown = _cli(env, "search", QUERY, "--explain").stdout
    assert ("parameters (from cluster): mode=hybrid k=7 num_candidates=70 rank_constant=20 "
            "rank_window_size=40 fusion=rrf weights=bm25=1,knn=2 "
            "boosts=headings^1,text^1,title^2.5 rerank.top_n=12") in shown
    overridden = json.loads(_cli(env, "search", QUERY, "--mode", "bm25", "--rank-constant",
                                 "5", "--json").stdout)["explain"]["parameters"]
    assert overridden["overrides"] == ["mode", "rank_constant"]
    assert overridden["values"] == {**TUNED, "mode": "bm25", "rank_constant": 5}

    # the HTTP API
    api = create_api_app(Settings(url=world["url"], index=INDEX, assets=root),
                         embedder=embedder).test_client()
    found = api.post("/api/search", json={"query": QUERY}).get_json()
    assert found["explain"]["parameters"] == from_cluster
    asked = api.post("/api/ask", json={"question": QUERY, "rank_window_size": 30}).get_json()
    assert asked["retrieval"]["parameters"]["overrides"] == ["rank_window_size"]
    assert asked["retrieval"]["parameters"]["values"] == {**TUNED, "rank_window_size": 30}

    # the playground: its controls start from the stored values, and "Save as code" keeps them
    ui = create_app(Settings(url=world["url"], index=INDEX, assets=root,
                             data=root / ".es-rag"),
                    allow_without_security=True, embedder=embedder)
    ui.config["TESTING"] = True
    browser = ui.test_client()
    login = browser.get("/auth/login").get_data(as_text=True)
    browser.post("/auth/login", data={"username": "admin", "password": "x",
                                      "csrf_token": CSRF.search(login).group(1)})
    page = browser.get(f"/playground?q={QUERY}").get_data(as_text=True)
    for name, value in (("rank_constant", 20), ("rank_window_size", 40), ("k", 7),
                        ("num_candidates", 70), ("boost_title", 2.5), ("rerank_top_n", 12),
                        ("knn_weight", 2)):
        assert re.search(rf'name="{name}"[^>]*value="{value}"', page), name
    assert "as applied in the cluster" in page
    controls = Controls.from_form({}, read_stored(client))  # type: ignore[arg-type]
    assert "k=7&num_candidates=70" in controls.tuning_query()
    reranked = controls.search_params(Mode.HYBRID_RERANK).rerank
    assert (reranked.backend, reranked.max_length) == ("torch", 128)

    # the stored search templates, for applications that call _search/template
    hybrid = template_defaults(client.get_script(id="hybrid")["script"]["source"])
    assert {k: hybrid[k] for k in ("rank_constant", "rank_window_size", "k", "num_candidates",
                                   "title_boost")} == {
        "rank_constant": "20", "rank_window_size": "40", "k": "40", "num_candidates": "70",
        "title_boost": "2.5"}
    knn = template_defaults(client.get_script(id="knn")["script"]["source"])
    assert (knn["k"], knn["num_candidates"]) == ("7", "70")

    # eval on the live index searches as `es-rag search` does; tune starts from the same values
    judged = Judgments("live", {"q1": QUERY}, {"q1": {"storage": 1}})
    report = evaluate_live(client, caps, INDEX, judged, parse_configs("current"),
                           embedder=embedder)
    assert report.parameters == {"source": "cluster", "values": TUNED}
    deep = read_stored(client).search_params(size=40)
    expected = documents_of(search(client, caps, INDEX, QUERY, deep, embedder).hits)
    assert report.configs["current"].rankings["q1"] == expected
    assert HybridSetting.from_defaults(read_stored(client)) == HybridSetting(
        20, 40, 70, 1.0, 2.5, 1.0, knn_weight=2.0)
