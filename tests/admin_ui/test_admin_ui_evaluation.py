"""Judge results in the playground, keep them as a qrels file, evaluate in the background."""

from __future__ import annotations

import time
from pathlib import Path

from flask.testing import FlaskClient
from ui_support import token

from admin_ui.evaluation import chart
from admin_ui.playground_judgments import PlaygroundJudgments, query_id


def _judge(client: FlaskClient, query: str, doc: str, grade: str, csrf: str) -> dict:
    response = client.post("/playground/judge", headers={"Accept": "application/json"},
                           data={"csrf_token": csrf, "q": query, "doc_id": doc, "grade": grade})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_judgments_are_written_as_trec_qrels_in_the_repository(
        browser_client: FlaskClient, assets_dir: Path) -> None:
    csrf = token(browser_client, "/playground")
    _judge(browser_client, "disk quota error", "storage", "1", csrf)
    _judge(browser_client, "disk quota error", "coffee", "0", csrf)
    qid = query_id("Disk  quota error")
    assert (assets_dir / "judgments" / "playground.qrels").read_text() == (
        f"{qid} 0 coffee 0\n{qid} 0 storage 1\n")
    assert "disk quota error" in (assets_dir / "judgments" /
                                  "playground-queries.jsonl").read_text()
    html = browser_client.get("/playground?q=disk+quota+error").get_data(as_text=True)
    assert 'class="judge-btn rel on" name="judgment" value="1|storage"' in html

    _judge(browser_client, "disk quota error", "coffee", "", csrf)  # forget it again
    assert PlaygroundJudgments(assets_dir).grades("disk quota error") == {"storage": 1}


def test_the_result_buttons_work_without_javascript(browser_client: FlaskClient,
                                                    assets_dir: Path) -> None:
    csrf = token(browser_client, "/playground")
    response = browser_client.post("/playground/judge", data={
        "csrf_token": csrf, "q": "vpn", "judgment": "1|vpn", "back": "/playground?q=vpn"})
    assert response.location == "/playground?q=vpn"
    assert PlaygroundJudgments(assets_dir).grades("vpn") == {"vpn": 1}


def test_a_bad_judgment_is_refused_with_a_reason(browser_client: FlaskClient) -> None:
    csrf = token(browser_client, "/playground")
    response = browser_client.post("/playground/judge", headers={"Accept": "application/json"},
                                   data={"csrf_token": csrf, "q": "x", "doc_id": "a b",
                                         "grade": "1"})
    assert response.status_code == 400
    assert "cannot be written to a qrels file" in response.get_json()["error"]


def test_evaluation_without_judgments_says_what_to_do(browser_client: FlaskClient) -> None:
    response = browser_client.post("/evaluation/run", data={"csrf_token": token(browser_client),
                                                            "configs": "bm25"},
                                   follow_redirects=True)
    assert "judge some results in the playground first" in response.get_data(as_text=True)


def test_an_evaluation_runs_in_the_background_and_lands_in_the_history(
        browser_client: FlaskClient) -> None:
    csrf = token(browser_client, "/playground")
    _judge(browser_client, "disk quota error", "storage", "1", csrf)
    _judge(browser_client, "remote access to the office network", "vpn", "1", csrf)
    response = browser_client.post("/evaluation/run",
                                   data={"csrf_token": csrf, "configs": "bm25,hybrid,knn:k=5"})
    assert response.status_code == 302
    page = browser_client.get("/evaluation").get_data(as_text=True)
    assert 'data-job-url="/jobs/eval-1.json"' in page
    deadline = time.monotonic() + 240  # the first ranx (numba) scoring compiles: ~30-90 s
    while (status := browser_client.get("/jobs/eval-1.json").get_json())["state"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    assert status["state"] == "done", status
    page = browser_client.get("/evaluation").get_data(as_text=True)
    assert "<code>knn:k=5</code>" in page and "<svg" in page
    assert page.count('class="bar c') == 9  # 3 configurations x 3 charted metrics
    assert "1.0000" in page  # bm25 finds both judged documents at rank 1


def test_a_second_evaluation_waits_for_the_first(browser_client: FlaskClient) -> None:
    csrf = token(browser_client, "/playground")
    _judge(browser_client, "disk quota error", "storage", "1", csrf)
    browser_client.post("/evaluation/run", data={"csrf_token": csrf, "configs": "bm25"})
    page = browser_client.post("/evaluation/run", data={"csrf_token": csrf, "configs": "bm25"},
                               follow_redirects=True).get_data(as_text=True)
    assert "already running" in page or "done in" in page


def test_chart_bars_scale_with_the_metric() -> None:
    summary = {"configs": {"a": {"ndcg@10": 1.0, "recall@10": 0.5, "mrr@10": 0.0}}}
    bars = [b for group in chart(summary)["groups"] for b in group["bars"]]
    assert [b["h"] for b in bars] == [160.0, 80.0, 0.0]
