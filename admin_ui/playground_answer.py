"""Playground answers: the answer to the playground's query streamed beside the retrieval columns
(Server-Sent Events, with citations), the prompt template edited and saved as code (diff first),
and "view request" of each column's Elasticsearch requests."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from admin_ui.access import current_user
from admin_ui.playground import Controls
from admin_ui.request_view import request_views
from es_rag.answer_cache import AnswerCache, bump_index_version, generator_identity
from es_rag.api import errors, sse
from es_rag.assets import file_diff
from es_rag.generate import (
    AskParams,
    Context,
    PromptError,
    Source,
    ask_stream,
    available_prompts,
    build_generator,
    render_prompt,
)
from es_rag.observability.answer_log import log_answer
from es_rag.observability.tracing import scope_hash
from es_rag.retrieve import Mode
from es_rag.retrieve.defaults import read_stored

bp = Blueprint("playground_answer", __name__, url_prefix="/playground")
EXTENSION = "admin_ui_answers"
PROMPT_FILES = ("system.j2", "user.j2")
PROMPT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SAMPLE = Context(sources=[Source(n=1, chunk_id="sample#0", doc_id="sample", source="sample.md",
                                 title="Sample", page=None, offsets=None, score=1.0, tokens=4,
                                 text="A sample source.")])


def _extension() -> dict[str, Any]:
    """The answer cache and the generators by prompt name, made on first use."""
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        settings = current_app.extensions["admin_ui"].settings
        found = current_app.extensions[EXTENSION] = {
            "cache": AnswerCache(settings.data, settings.answer_cache_seconds), "generators": {}}
    return found


def prompts_dir() -> Path:
    return current_app.extensions["admin_ui"].settings.assets / "templates" / "prompts"


def prompt_texts(name: str) -> dict[str, str]:
    """The prompt's template files as they are on disk (empty for a new prompt)."""
    folder = prompts_dir() / name
    return {f: (folder / f).read_text(encoding="utf-8") if (folder / f).is_file() else ""
            for f in PROMPT_FILES}


@bp.app_context_processor
def _playground_answer_globals() -> dict[str, Any]:
    def views(explain: dict[str, Any]) -> list[dict[str, str]]:
        settings = current_app.extensions["admin_ui"].settings
        return request_views(explain, settings.url or f"http://127.0.0.1:{settings.engine_port}")

    return {"request_views": views, "prompt_names": lambda: available_prompts(prompts_dir()),
            "prompt_texts": prompt_texts}


def _generator(state: Any, prompt: str) -> Any:
    generators = _extension()["generators"]
    if prompt not in generators:
        generators[prompt] = build_generator(state.settings, embedder=state.query_embedder(),
                                             prompt=prompt)
    return generators[prompt]


@bp.route("/answer")
def answer() -> Response:
    """The answer to the playground's query, as Server-Sent Events (`token`, `citations`,
    `done`, `logged` with the answer log's id, `end`; or `error`)."""
    state = current_app.extensions["admin_ui"]
    user = current_user()
    assert user is not None
    settings = state.settings
    defaults = read_stored(user.client, fallback=settings.assets)
    controls = Controls.from_form(request.args, defaults)
    prompt = request.args.get("prompt") or "default"
    if not controls.query:
        abort(400, description="Ask a question: the query is empty.")
    if prompt not in available_prompts(prompts_dir()):
        abort(400, description=f"There is no prompt template {prompt!r}.")
    cluster_url = (lambda: settings.url or "the embedded engine")  # noqa: E731
    try:
        mode = Mode.parse(request.args.get("answer_mode") or defaults.params.mode.value)
        params = AskParams(search=controls.search_params(mode))
        generator = _generator(state, prompt)
        embedder = state.query_embedder()
    except Exception as exc:  # noqa: BLE001 - sent as the stream's error event
        error = errors.as_api_error(exc, cluster_url) or errors.bad_request(str(exc))
        return Response(sse.event("error", error.as_dict()), mimetype="text/event-stream",
                        headers=sse.HEADERS)
    scope = scope_hash(controls.as_user or user.username)
    cache: AnswerCache = _extension()["cache"]
    key = cache.key(controls.query, {"search": params.search, **generator_identity(generator)},
                    settings.index, scope)
    cached = cache.get(key)
    logged: dict[str, str | None] = {}

    def finished(done: Any) -> None:
        if cached is None:
            cache.put(key, done)
        logged["id"] = log_answer(settings, controls.query, done, surface="playground",
                                  user_scope=scope)

    def events() -> Iterator[str]:
        parts = iter([cached.text, cached]) if cached is not None else ask_stream(
            user.client, user.caps, settings.index, controls.query, params, embedder,
            generator, as_user=controls.as_user or None,
            client_side_acl_filter=settings.client_side_acl_filter)
        yield from sse.answer_events(
            sse.on_answer(parts, finished), question=controls.query, timings={},
            to_error=lambda exc: errors.as_api_error(exc, cluster_url))
        if logged.get("id"):
            yield sse.event("logged", {"id": logged["id"],
                                       "url": f"{answers_url}/{logged['id']}"})
        yield sse.event("end", {})

    answers_url = url_for("answers.index")
    return Response(events(), mimetype="text/event-stream", headers=sse.HEADERS)


def _sent_prompt() -> tuple[str, dict[str, str]]:
    """The prompt name and template texts the form sent; a 400 when they do not render."""
    name = request.form.get("name", "").strip()
    if not PROMPT_NAME.match(name):
        abort(400, description=f"Prompt name {name!r}: use lowercase letters, digits, '-' and "
                               "'_' (at most 64).")
    texts = {f: request.form.get(f.removesuffix(".j2"), "").replace("\r\n", "\n")
             for f in PROMPT_FILES}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        folder.mkdir()
        for file, text in texts.items():
            (folder / file).write_text(text, encoding="utf-8")
        try:
            render_prompt(name, "What is the sample about?", SAMPLE, prompts_dir=Path(tmp))
        except PromptError as exc:
            abort(400, description=f"Not saved: {exc}")
    return name, texts


def _back() -> str:
    back = request.form.get("back", "")
    return back if back.startswith("/playground") else url_for("playground.index")


@bp.route("/prompt/preview", methods=["POST"])
def prompt_preview() -> str:
    """The diff that saving the edited prompt would write to templates/prompts/<name>/."""
    name, texts = _sent_prompt()
    before = prompt_texts(name)
    diffs = {f"templates/prompts/{name}/{file}": file_diff(Path(name) / file, before[file],
                                                           texts[file])
             for file in PROMPT_FILES}
    return render_template("playground/prompt_preview.html", name=name, texts=texts,
                           diffs={path: diff for path, diff in diffs.items() if diff},
                           back=_back())


@bp.route("/prompt/save", methods=["POST"])
def prompt_save() -> Response:
    """Write the prompt's template files into the repository (the assets folder)."""
    name, texts = _sent_prompt()
    folder = prompts_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in texts.items():
        (folder / file).write_text(text, encoding="utf-8")
    _extension()["generators"].pop(name, None)
    bump_index_version(current_app.extensions["admin_ui"].settings.data)  # cached answers
    flash(f"Saved templates/prompts/{name}/: answers now use the edited prompt. Commit it "
          "with the rest of the repository.")
    return redirect(_back())
