"""An operator turns on the answer log and the answer cache of the API, and reads what they keep.

The log keeps, privately under the data folder, why each answer came out as it did (passages
and scores, prompt, answer, citations, verdicts), with the question redacted unless configured
otherwise, for a retention period. The cache answers a repeated question without retrieval,
until an ingest or apply gives the index a new version.
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from retrieve.corpus import shared_embedder

from api.conftest import INDEX, sse_events
from es_rag.answer_cache import bump_index_version
from es_rag.api import create_api_app
from es_rag.config import Settings
from es_rag.observability.answer_log import REDACTED, log_dir, question_hash, recent_answers

QUESTION = "When was the Eiffel Tower completed?"


def _api(engine_url: str, data: Path, **settings: object) -> FlaskClient:
    return create_api_app(Settings(url=engine_url, index=INDEX, data=data, **settings),
                          embedder=shared_embedder()).test_client()


def test_without_the_setting_nothing_is_logged(engine, cluster: Elasticsearch,
                                               tmp_path: Path) -> None:
    api = _api(engine.url, tmp_path)
    assert api.post("/api/ask", json={"question": QUESTION, "size": 3}).status_code == 200
    assert not log_dir(tmp_path).exists()


def test_the_log_keeps_passages_answer_citations_and_verdicts_question_redacted(
        engine, cluster: Elasticsearch, tmp_path: Path) -> None:
    api = _api(engine.url, tmp_path, answer_log=True)
    answer = api.post("/api/ask", json={"question": QUESTION, "size": 3}).json
    [record] = recent_answers(Settings(data=tmp_path))
    assert record["surface"] == "api" and record["index"] == INDEX
    assert record["question"] is None and record["question_hash"] == question_hash(QUESTION)
    assert QUESTION not in json.dumps(record)
    assert record["answer"] == answer["answer"]
    assert [p["chunk_id"] for p in record["passages"]] == [s["chunk_id"]
                                                           for s in answer["sources"]]
    assert all(isinstance(p["score"], float) for p in record["passages"])
    assert record["citations"][0]["chunk_id"] == "eiffel#0"
    assert record["verdicts"]["refusal"] is False
    assert record["verdicts"]["citation_coverage"] == 1.0
    assert {"removed_citations", "unsupported_sentences"} <= set(record["verdicts"])
    assert record["prompt"] == []  # the extractive answerer sends no prompt
    folder = log_dir(tmp_path)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())


def test_a_streamed_answer_is_logged_with_the_question_when_configured(
        engine, cluster: Elasticsearch, tmp_path: Path) -> None:
    api = _api(engine.url, tmp_path, answer_log=True, answer_log_questions=True)
    response = api.post("/api/ask", json={"question": QUESTION, "size": 3, "stream": True})
    done = sse_events(response.get_data(as_text=True))[-1][1]
    [record] = recent_answers(Settings(data=tmp_path))
    assert record["question"] == QUESTION and record["answer"] == done["answer"]


def test_a_prompt_is_logged_with_the_question_cut_out() -> None:
    from es_rag.generate import Answer
    from es_rag.observability.answer_log import answer_record

    answer = Answer(text="Paris.", citations=[], provider="openai", extractive=False,
                    prompt=[{"role": "system", "content": "Answer from the sources."},
                            {"role": "user", "content": f"Question: {QUESTION}\nSources: …"}])
    record = answer_record(QUESTION, answer, surface="api", index=INDEX, user_scope=None,
                           keep_question=False)
    assert record["prompt"][1]["content"] == f"Question: {REDACTED}\nSources: …"
    kept = answer_record(QUESTION, answer, surface="api", index=INDEX, user_scope=None,
                         keep_question=True)
    assert QUESTION in kept["prompt"][1]["content"]


def test_answers_older_than_the_retention_period_are_deleted(
        engine, cluster: Elasticsearch, tmp_path: Path) -> None:
    api = _api(engine.url, tmp_path, answer_log=True, answer_log_days=7)
    api.post("/api/ask", json={"question": QUESTION, "size": 3})
    [fresh] = list(log_dir(tmp_path).iterdir())
    stamp = (datetime.now(UTC) - timedelta(days=8)).strftime("%Y%m%dT%H%M%S%fZ")
    old = log_dir(tmp_path) / f"{stamp}-1-0badc0de.json"
    old.write_text(fresh.read_text())
    assert len(recent_answers(Settings(data=tmp_path, answer_log_days=7))) == 1
    assert not old.exists() and fresh.exists()


@pytest.mark.parametrize("stream", [False, True])
def test_a_repeated_question_is_answered_from_the_cache_until_the_index_changes(
        engine, cluster: Elasticsearch, tmp_path: Path, stream: bool) -> None:
    api = _api(engine.url, tmp_path, answer_cache_seconds=300)

    def ask(**extra: object) -> dict:
        response = api.post("/api/ask", json={"question": QUESTION, "size": 3,
                                              "stream": stream, **extra})
        assert response.status_code == 200
        if not stream:
            return response.json
        return sse_events(response.get_data(as_text=True))[-1][1]

    first, second = ask(), ask()
    assert "cache" not in first["retrieval"] and second["retrieval"]["cache"] == "hit"
    assert second["answer"] == first["answer"]
    assert "cache" not in ask(size=2)["retrieval"]  # other parameters: another answer
    bump_index_version(tmp_path)  # what `es-rag ingest` and `es-rag apply` do
    assert "cache" not in ask()["retrieval"]
    metrics = api.get("/metrics").get_data(as_text=True)
    assert 'es_rag_answer_cache_total{outcome="hit"} 1.0' in metrics
    assert 'es_rag_answer_cache_total{outcome="miss"} 3.0' in metrics
