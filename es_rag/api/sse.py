"""Server-Sent Events for streamed answers: `token` deltas, then `citations`, then `done`.

Every event's data is one line of JSON. A failure after the stream has started (headers are
sent, so the status cannot change any more) ends the stream with an `error` event carrying the
same `{"error": {"type", "reason"}}` body as a JSON error response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from es_rag.generate import Answer

from .errors import ApiError

log = logging.getLogger(__name__)
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(name: str, data: Any) -> str:
    """One SSE event with JSON data."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def on_answer(parts: Iterable[str | Answer],
              finished: Callable[[Answer], None]) -> Iterator[str | Answer]:
    """The parts of a streamed answer, unchanged; `finished` sees the final Answer first."""
    for part in parts:
        if isinstance(part, Answer):
            finished(part)
        yield part


def answer_events(parts: Iterable[str | Answer], *, question: str,
                  timings: dict[str, float],
                  to_error: Callable[[Exception], ApiError | None]) -> Iterator[str]:
    """The events of a streamed answer: `parts` yields text deltas, then the final Answer.

    `timings` (e.g. the condense step) are added to the answer's; `to_error` maps a failure to
    the API error sent as the last event.
    """
    try:
        answer: Answer | None = None
        for part in parts:
            if isinstance(part, Answer):
                answer = part
            elif part:
                yield event("token", {"text": part})
        if answer is None:
            raise RuntimeError("the answer stream ended without a final answer")
        body = answer.as_dict()
        yield event("citations", {key: body[key] for key in
                                  ("citations", "removed_citations", "unsupported_sentences")})
        yield event("done", {"answer": body["answer"], "provider": body["provider"],
                             "extractive": body["extractive"], "question": question,
                             "timings": {**timings, **body["timings"]},
                             "retrieval": body["retrieval"]})
    except Exception as exc:
        error = to_error(exc)
        if error is None:
            log.exception("the answer stream failed")
            error = ApiError(500, "internal_error", f"the answer stream failed "
                                                    f"({type(exc).__name__})")
        yield event("error", error.as_dict())
