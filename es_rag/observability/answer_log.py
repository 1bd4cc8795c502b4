"""The answer log: why each answer came out as it did, kept privately under `<data>/answers/`.

Opt-in (`answer_log = true`). One JSON file per answer (folder 0700, files 0600, like the run
records), named `<UTC timestamp>-<pid>-<random>`, so name order is time order. A record holds
the passages given to the generator with their scores, the prompt a model was sent, the answer,
its citations and the verification verdicts (citations removed, unsupported sentences,
instruction-like source text, citation coverage). The question is redacted unless
`answer_log_questions` is set: a hash remains, and the question is cut out of the prompt too.
Records older than `answer_log_days` are deleted when the log is read, and when it is written
(at most once every `PRUNE_EVERY` seconds per process, so that writing stays cheap).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from es_rag.config import Settings
from es_rag.engine.storage.private import private_folder
from es_rag.engine.storage.state import write_atomically
from es_rag.observability.answers import citation_coverage, is_refusal

log = logging.getLogger(__name__)
REDACTED = "[question redacted]"
SURFACES = ("cli", "api", "playground")
_STAMP = "%Y%m%dT%H%M%S%fZ"
_ID = re.compile(r"^\d{8}T\d{12}Z-\d+-[0-9a-f]{8}$")
PRUNE_EVERY = 3600.0
_last_pruned: dict[Path, float] = {}


def log_dir(data: Path) -> Path:
    """Where the answer log lives: `<data>/answers`."""
    return Path(data) / "answers"


def question_hash(question: str) -> str:
    """A stable pseudonym of a question (case and spacing do not matter): 16 hex digits."""
    normal = " ".join(question.lower().split())
    return hashlib.sha256(f"es-rag-question:{normal}".encode()).hexdigest()[:16]


def _redact(text: str, question: str) -> str:
    return text.replace(question, REDACTED) if question.strip() else text


def answer_record(question: str, answer: Any, *, surface: str, index: str,
                  user_scope: str | None, keep_question: bool) -> dict[str, Any]:
    """The log record of one answer (an `Answer`); the question only when `keep_question`."""
    prompt = [{"role": m.get("role", ""), "content": m.get("content", "")}
              for m in answer.prompt]
    if not keep_question:
        prompt = [{**m, "content": _redact(m["content"], question)} for m in prompt]
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "surface": surface,
        "question": question if keep_question else None,
        "question_hash": question_hash(question),
        "user_scope": user_scope,
        "index": index,
        "provider": answer.provider,
        "extractive": answer.extractive,
        "retrieval": answer.retrieval,
        "passages": [s.as_dict() for s in answer.sources_used],
        "prompt": prompt,
        "answer": answer.text,
        "citations": [asdict(c) for c in answer.citations],
        "verdicts": {
            "refusal": is_refusal(answer),
            "citation_coverage": citation_coverage(answer),
            "removed_citations": list(answer.removed_citations),
            "unsupported_sentences": list(answer.unsupported_sentences),
            "instruction_like": [f.as_dict() for f in answer.instruction_like],
        },
        "timings": answer.timings,
    }


def log_answer(settings: Settings, question: str, answer: Any, *, surface: str,
               user_scope: str | None = None, index: str | None = None) -> str | None:
    """Write the answer to the log when `settings.answer_log` is on; its id, else None.

    A log that cannot be written is reported in the server's log, never to the asker: the
    answer is given either way.
    """
    if not settings.answer_log:
        return None
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r} (known: {', '.join(SURFACES)})")
    record = answer_record(question, answer, surface=surface, index=index or settings.index,
                           user_scope=user_scope, keep_question=settings.answer_log_questions)
    folder = log_dir(settings.data)
    record_id = (f"{datetime.now(UTC).strftime(_STAMP)}-{os.getpid()}-"
                 f"{secrets.token_hex(4)}")
    try:
        private_folder(Path(settings.data))
        private_folder(folder)
        write_atomically(folder / f"{record_id}.json",
                         json.dumps({"id": record_id, **record}, indent=2, ensure_ascii=False))
        if time.monotonic() - _last_pruned.get(folder, -PRUNE_EVERY) >= PRUNE_EVERY:
            prune(settings)
    except OSError as exc:
        log.warning("the answer log in %s cannot be written: %s", folder, exc)
        return None
    return record_id


def _written(record_id: str) -> datetime | None:
    try:
        return datetime.strptime(record_id.split("-")[0], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def prune(settings: Settings) -> int:
    """Delete the records older than `answer_log_days`; how many were deleted."""
    folder = log_dir(settings.data)
    _last_pruned[folder] = time.monotonic()
    if not folder.is_dir():
        return 0
    oldest = datetime.now(UTC) - timedelta(days=settings.answer_log_days)
    deleted = 0
    for path in folder.glob("*.json"):
        written = _written(path.stem)
        if written is not None and written < oldest:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def recent_answers(settings: Settings, limit: int = 50) -> list[dict[str, Any]]:
    """The newest `limit` records, newest first (past the retention period: deleted first)."""
    prune(settings)
    folder = log_dir(settings.data)
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("*.json"), reverse=True)[:limit]:
        record = _read(path)
        if record is not None:
            records.append(record)
    return records


def read_answer(settings: Settings, record_id: str) -> dict[str, Any] | None:
    """One record by id; None when there is none (or the id is not one)."""
    if not _ID.match(record_id):
        return None
    written = _written(record_id)
    if written is None or written < datetime.now(UTC) - timedelta(days=settings.answer_log_days):
        return None
    return _read(log_dir(settings.data) / f"{record_id}.json")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None
