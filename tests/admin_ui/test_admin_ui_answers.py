"""An admin asks in the playground, reads why the answer came out as it did on the Answers page,
turns a bad answer into judgments, edits the prompt as code and views the search requests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from api.conftest import sse_events
from flask import Flask
from flask.testing import FlaskClient
from retrieve.corpus import shared_embedder
from ui_support import log_in, token

from admin_ui import create_app
from es_rag.config import Settings
from es_rag.observability.answer_log import recent_answers

QUESTION = "When was the Eiffel Tower completed?"


@pytest.fixture
def logged(settings: Settings) -> Settings:
    return dataclasses.replace(settings, answer_log=True, answer_log_questions=True)


@pytest.fixture
def ui(logged: Settings) -> FlaskClient:
    app: Flask = create_app(logged, allow_without_security=True, embedder=shared_embedder())
    client = app.test_client()
    assert log_in(client).status_code == 302
    return client


def _answer(ui: FlaskClient, question: str = QUESTION, **args: str) -> list[tuple[str, dict]]:
    response = ui.get("/playground/answer", query_string={"q": question, "size": "3", **args})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    return sse_events(response.get_data(as_text=True))


def test_the_playground_streams_an_answer_with_citations_and_logs_it(ui, logged) -> None:
    events = _answer(ui)
    names = [name for name, _ in events]
    assert names[-4:] == ["citations", "done", "logged", "end"] and names[0] == "token"
    citations = dict(events)["citations"]["citations"]
    assert citations[0]["chunk_id"] == "eiffel#0"
    assert "1889" in dict(events)["done"]["answer"]
    [record] = recent_answers(logged)
    assert record["surface"] == "playground" and record["question"] == QUESTION
    assert dict(events)["logged"] == {"id": record["id"], "url": f"/answers/{record['id']}"}


def test_a_bad_parameter_ends_the_stream_with_a_clear_error(ui) -> None:
    events = _answer(ui, boost_title="lots")
    assert events == [("error", {"error": {"type": "validation_error",
                                           "reason": "boost of title: 'lots' is not a number"}})]


def test_the_answers_page_opens_an_answer_as_its_trace(ui, logged) -> None:
    _answer(ui)
    [record] = recent_answers(logged)
    listing = ui.get("/answers").get_data(as_text=True)
    assert f'href="/answers/{record["id"]}"' in listing and QUESTION in listing
    page = ui.get(f"/answers/{record['id']}").get_data(as_text=True)
    assert "Why did it say that?" in page
    for passage in record["passages"]:
        assert passage["chunk_id"] in page and f"{passage['score']:.4f}" in page
    assert "Citation coverage: 100%" in page and "No prompt: the extractive answerer" in page
    assert ui.get("/answers/20260101T000000000000Z-1-deadbeef").status_code == 404
    assert ui.get("/answers/..%2f..%2fsecret").status_code == 404


def test_a_bad_answer_becomes_judgments_in_the_playground_qrels(ui, logged) -> None:
    _answer(ui)
    [record] = recent_answers(logged)
    docs = sorted({p["doc_id"] for p in record["passages"]})
    path = f"/answers/{record['id']}"
    form = {"csrf_token": token(ui, path), f"grade:{docs[0]}": "0", f"grade:{docs[-1]}": "1"}
    response = ui.post(f"{path}/judge", data=form)
    assert response.status_code == 302
    qrels = (logged.assets / "judgments" / "playground.qrels").read_text().splitlines()
    assert sorted(line.split()[2:] for line in qrels) == sorted([[docs[0], "0"],
                                                                [docs[-1], "1"]])
    queries = (logged.assets / "judgments" / "playground-queries.jsonl").read_text()
    assert json.loads(queries.splitlines()[0])["text"] == QUESTION


def test_a_redacted_question_must_be_typed_to_judge(settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, answer_log=True),
                     allow_without_security=True, embedder=shared_embedder())
    ui = app.test_client()
    log_in(ui)
    _answer(ui)
    [record] = recent_answers(dataclasses.replace(settings, answer_log=True))
    assert record["question"] is None
    path = f"/answers/{record['id']}"
    page = ui.get(path).get_data(as_text=True)
    assert "redacted" in page and QUESTION not in page
    doc = record["passages"][0]["doc_id"]
    refused = ui.post(f"{path}/judge", data={"csrf_token": token(ui, path), f"grade:{doc}": "0"})
    assert refused.status_code == 400 and "type it" in refused.get_data(as_text=True)
    typed = ui.post(f"{path}/judge", data={"csrf_token": token(ui, path), f"grade:{doc}": "0",
                                           "question": QUESTION})
    assert typed.status_code == 302


def test_the_answers_page_says_when_the_log_is_off(browser_client) -> None:
    page = browser_client.get("/answers").get_data(as_text=True)
    assert "The answer log is off" in page


def test_each_column_shows_its_exact_request_and_a_python_snippet(browser_client) -> None:
    page = browser_client.get("/playground", query_string={"q": "eiffel tower"}).get_data(
        as_text=True)
    assert page.count("View request") >= 3
    assert "POST /ui-chunks/_search" in page
    assert "client = Elasticsearch(" in page and "response = client.search(" in page
    assert 'index=&#34;ui-chunks&#34;' in page  # HTML-escaped quotes


def test_an_edited_prompt_is_previewed_as_a_diff_then_saved_as_code(ui, logged) -> None:
    folder = logged.assets / "templates" / "prompts" / "default"
    user = (folder / "user.j2").read_text()
    edited = user.replace("citing them as [n]", "citing every claim as [n]")
    form = {"csrf_token": token(ui, "/playground"), "name": "default",
            "system": (folder / "system.j2").read_text(), "user": edited,
            "back": "/playground?q=x"}
    preview = ui.post("/playground/prompt/preview", data=form).get_data(as_text=True)
    assert "templates/prompts/default/user.j2" in preview and "system.j2</code>" not in preview
    assert "+Answer from the sources above only, citing every claim as [n]." in preview
    assert (folder / "user.j2").read_text() == user  # nothing written yet
    saved = ui.post("/playground/prompt/save", data=form)
    assert saved.status_code == 302 and saved.location.endswith("/playground?q=x")
    assert (folder / "user.j2").read_text() == edited


def test_a_prompt_that_does_not_render_is_refused(ui, logged: Settings) -> None:
    form = {"csrf_token": token(ui, "/playground"), "name": "default", "system": "Be brief.",
            "user": "{{ question "}
    refused = ui.post("/playground/prompt/save", data=form)
    assert refused.status_code == 400
    assert "does not render" in refused.get_data(as_text=True)
    bad_name = ui.post("/playground/prompt/save", data={**form, "name": "../../etc"})
    assert bad_name.status_code == 400
    assert not Path(logged.assets / "templates" / "etc").exists()


@pytest.mark.parametrize("mode", ["bm25", "knn"])
def test_the_python_snippet_sends_the_same_search(engine, cluster, mode: str) -> None:
    from admin_ui.request_view import python_snippet
    from es_rag.connect import detect_capabilities
    from es_rag.retrieve import SearchParams, search

    caps = detect_capabilities(cluster, engine.url, cluster.info().body, embedded=True)
    result = search(cluster, caps, "ui-chunks", "eiffel tower", SearchParams(
        mode=mode, size=3, explain=True), shared_embedder())
    [request] = result.explain["requests"]
    code = python_snippet(request, engine.url)
    assert code.startswith("from elasticsearch import Elasticsearch\n\nclient = Elasticsearch(")
    scope = {"client": cluster}
    exec(code.split("\n", 3)[3], scope)  # the call, with this test's client
    ids = [hit["_id"] for hit in scope["response"]["hits"]["hits"]]
    assert ids == [hit.chunk_id for hit in result.hits]


def test_the_playground_reuses_an_answer_until_a_prompt_is_saved(settings: Settings) -> None:
    cached = dataclasses.replace(settings, answer_cache_seconds=300,
                                 client_side_acl_filter=True)  # to search as bob here
    ui = create_app(cached, allow_without_security=True,
                    embedder=shared_embedder()).test_client()
    log_in(ui)
    first, second = (dict(_answer(ui))["done"]["retrieval"] for _ in range(2))
    assert "cache" not in first and second["cache"] == "hit"
    as_bob = dict(_answer(ui, as_user="bob"))["done"]  # another user scope: not alice's
    assert "cache" not in as_bob["retrieval"] and "1889" not in as_bob["answer"]
    folder = cached.assets / "templates" / "prompts" / "default"
    ui.post("/playground/prompt/save", data={
        "csrf_token": token(ui, "/playground"), "name": "default",
        "system": (folder / "system.j2").read_text() + "\nBe brief.",
        "user": (folder / "user.j2").read_text()})
    assert "cache" not in dict(_answer(ui))["done"]["retrieval"]
