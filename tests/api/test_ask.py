"""An application asks questions through the API, as JSON or streamed as Server-Sent Events."""

from __future__ import annotations

from retrieve.corpus import CORPUS

from api.conftest import sse_events

CITATION_KEYS = {"n", "chunk_id", "doc_id", "source", "page", "offsets", "quote"}


def test_ask_returns_the_answer_with_structured_citations(api) -> None:
    response = api.post("/api/ask", json={"question": "When was the Eiffel Tower completed?",
                                          "size": 3})
    assert response.status_code == 200, response.json
    body = response.json
    assert {"answer", "citations", "provider", "timings"} <= set(body)
    assert "1889" in body["answer"] and "[1]" in body["answer"]
    assert body["provider"] == "extractive"
    citation = body["citations"][0]
    assert set(citation) >= CITATION_KEYS
    assert citation["chunk_id"] == "eiffel#0" and citation["page"] == 4
    assert citation["quote"] in CORPUS[3]["text"]
    assert {"retrieval_ms", "total_ms"} <= set(body["timings"])


def test_streamed_answer_sends_tokens_then_citations_then_done(api) -> None:
    response = api.post("/api/ask", json={"question": "When was the Eiffel Tower completed?",
                                          "size": 3, "stream": True})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = sse_events(response.get_data(as_text=True))
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"]
    assert names[:-2] and set(names[:-2]) == {"token"}
    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert "1889" in streamed
    citations = events[-2][1]["citations"]
    assert citations[0]["chunk_id"] == "eiffel#0" and set(citations[0]) >= CITATION_KEYS
    done = events[-1][1]
    assert "1889" in done["answer"] and done["provider"] == "extractive"
    assert "first_token_ms" in done["timings"]


def test_a_follow_up_is_condensed_with_the_conversation_before_retrieval(api) -> None:
    history = [{"role": "user", "content": "What does quota error ERR_4711 mean?"},
               {"role": "assistant", "content": "The disk quota of the project is exhausted."}]
    follow_up = "How long are they kept?"
    alone = api.post("/api/ask", json={"question": follow_up, "size": 3}).json
    in_conversation = api.post("/api/ask", json={"question": follow_up, "size": 3,
                                                 "history": history}).json
    assert alone["question"] == follow_up
    assert in_conversation["question"].startswith(follow_up)
    assert "ERR_4711" in in_conversation["question"]
    assert in_conversation["sources"][0]["chunk_id"] == "storage#0"
    assert alone["sources"][0]["chunk_id"] != "storage#0"
    assert "condense_ms" in in_conversation["timings"]


def test_a_streamed_follow_up_reports_the_standalone_question(api) -> None:
    history = [{"role": "user", "content": "Tell me about the Eiffel Tower"}]
    response = api.post("/api/ask", json={"question": "When was it completed?",
                                          "history": history, "size": 3, "stream": True})
    done = sse_events(response.get_data(as_text=True))[-1][1]
    assert "Eiffel Tower" in done["question"] and "1889" in done["answer"]
