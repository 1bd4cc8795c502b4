"""The Answers page: recent answers from the answer log, each opened as its trace ("why did it
say that?": passages with scores, prompt, answer, citations, verdicts), and a bad answer turned
into judgments of the playground's judgment files."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from admin_ui.playground_judgments import NOT_RELEVANT, RELEVANT, PlaygroundJudgments
from es_rag.config import Settings
from es_rag.observability.answer_log import read_answer, recent_answers

bp = Blueprint("answers", __name__, url_prefix="/answers")


def _settings() -> Settings:
    return current_app.extensions["admin_ui"].settings


@bp.route("")
def index() -> str:
    """The newest answers of the log (or why there are none)."""
    settings = _settings()
    return render_template("answers/index.html", answers=recent_answers(settings, limit=100),
                           enabled=settings.answer_log, days=settings.answer_log_days,
                           data=settings.data)


def _record(record_id: str) -> dict[str, Any]:
    record = read_answer(_settings(), record_id)
    if record is None:
        abort(404)
    return record


@bp.route("/<record_id>")
def trace(record_id: str) -> str:
    """One answer as its trace; cited documents are proposed as not relevant for a judgment."""
    record = _record(record_id)
    cited = {c["doc_id"] for c in record.get("citations", [])}
    documents: dict[str, dict[str, Any]] = {}
    for passage in record.get("passages", []):
        doc = passage.get("doc_id")
        if doc and doc not in documents:
            documents[doc] = {"title": passage.get("title") or passage.get("source") or doc,
                              "cited": doc in cited}
    return render_template("answers/trace.html", record=record, documents=documents,
                           grades=PlaygroundJudgments(_settings().assets).grades(
                               record.get("question") or ""),
                           RELEVANT=RELEVANT, NOT_RELEVANT=NOT_RELEVANT)


@bp.route("/<record_id>/judge", methods=["POST"])
def judge(record_id: str) -> Response:
    """Write the grades chosen for the answer's documents into judgments/playground.qrels."""
    record = _record(record_id)
    question = (record.get("question") or request.form.get("question", "")).strip()
    if not question:
        abort(400, description="The question was redacted in the answer log: type it to "
                               "judge its documents.")
    known = {p.get("doc_id") for p in record.get("passages", [])}
    judgments = PlaygroundJudgments(_settings().assets)
    saved = 0
    for doc in sorted(d for d in known if d):
        raw = request.form.get(f"grade:{doc}", "")
        if raw in (str(RELEVANT), str(NOT_RELEVANT)):
            judgments.mark(question, doc, int(raw))
            saved += 1
    if not saved:
        flash("Nothing judged: choose relevant or not relevant for a document.", "error")
    else:
        flash(f"Saved {saved} judgment(s) to judgments/playground.qrels: es-rag eval "
              "--judgments judgments/playground.qrels and the evaluation page now count them.")
    return redirect(url_for("answers.trace", record_id=record_id))
