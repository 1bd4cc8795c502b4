"""Overview: what the cluster can do, the chunk index and its versions, pipeline, assets, runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from elasticsearch import ApiError
from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from admin_ui.access import ClusterUser, current_user
from admin_ui.jobs import Job, JobBusy
from es_rag import assets, run_records
from es_rag.answer_cache import bump_index_version
from es_rag.ingest import index_counts
from es_rag.ingest.discover import outside_roots
from es_rag.ingest.options import IngestOptions

bp = Blueprint("overview", __name__)


def _index_facts(user: ClusterUser, alias: str) -> dict[str, Any]:
    client = user.client
    facts: dict[str, Any] = {"alias": alias, "target": None, "versions": [], "error": None,
                             "chunks": None, "documents": None, "pipeline": None,
                             "pipeline_body": None}
    try:
        facts["target"] = assets.alias_target(client, alias)
        facts["versions"] = assets.index_versions(client, alias)
        if facts["target"] is None and not client.indices.exists(index=alias):
            facts["error"] = (f"There is no index or alias {alias!r} yet: run `es-rag apply` "
                              "(or Apply below) to create it.")
            return facts
        facts["chunks"], facts["documents"] = index_counts(
            client, alias)
        index = facts["target"] or alias
        settings = client.indices.get_settings(index=index).body.get(index, {})
        pipeline = settings.get("settings", {}).get("index", {}).get("default_pipeline")
        facts["pipeline"] = pipeline
        if pipeline:
            found = client.options(ignore_status=404).ingest.get_pipeline(id=pipeline)
            facts["pipeline_body"] = found.body.get(pipeline) if found.meta.status == 200 else None
    except ApiError as exc:
        facts["error"] = f"{alias}: the cluster answered {exc.meta.status}: {exc.message}"
    return facts


def _plan(user: ClusterUser, root: Path) -> tuple[list[assets.Change], str | None]:
    try:
        return assets.plan(user.client, user.caps, assets.load_assets(root)), None
    except (assets.AssetError, assets.ApplyError) as exc:
        return [], str(exc)
    except ApiError as exc:
        return [], f"planning failed: {exc.meta.status} {exc.message}"


@bp.route("/overview")
def index() -> str:
    """The overview page."""
    state = current_app.extensions["admin_ui"]
    user = current_user()
    assert user is not None
    changes, plan_error = _plan(user, state.settings.assets)
    return render_template(
        "overview/index.html", caps=user.caps.as_dict(), facts=_index_facts(user,
                                                                             state.settings.index),
        changes=changes, plan_error=plan_error,
        ingest_runs=run_records.read_records(state.settings.data, "ingest", limit=5),
        ingest_roots=[str(root) for root in state.settings.ingest_roots],
        ingest_job=state.jobs.latest("ingest"), apply_job=state.jobs.latest("apply"))


@bp.route("/overview/apply", methods=["POST"])
def apply_assets() -> Response:
    """Apply the asset files to the cluster (may create a new index version and reindex)."""
    state = current_app.extensions["admin_ui"]
    user = current_user()
    assert user is not None
    root = state.settings.assets

    def work(job: Job) -> list[dict[str, Any]]:
        loaded = assets.load_assets(root)
        changes = assets.apply(user.client, user.caps, loaded, progress=job.progress)
        bump_index_version(state.settings.data)  # cached answers are stale
        return [c.as_dict() for c in changes]

    _start(state, "apply", f"apply {root}", work)
    return redirect(url_for("overview.index"))


@bp.route("/overview/ingest", methods=["POST"])
def ingest() -> Response:
    """Ingest a folder or file on the server into the chunk index, recording the report.

    Only paths inside the `ingest_roots` setting are accepted (after resolving `..` and links);
    a relative path is taken relative to the first root.
    """
    state = current_app.extensions["admin_ui"]
    user = current_user()
    assert user is not None
    given = request.form.get("path", "").strip()
    if not given:
        flash("Name a folder or file to ingest.", "error")
        return redirect(url_for("overview.index"))
    settings = state.settings
    problem = outside_roots(given, settings.ingest_roots)
    if problem is not None:
        flash(f"Not ingested: {problem}.", "error")
        return redirect(url_for("overview.index"))
    path = str(Path(settings.ingest_roots[0]).resolve() / given)

    def work(job: Job) -> dict[str, Any]:
        from es_rag.embedding.factory import embedder_for
        from es_rag.ingest import ingest_paths

        # with embedding = cluster the cluster's inference pipeline embeds, as the admin's own
        embedder = (embedder_for(settings, user.client, user.caps)
                    if settings.embedding == "cluster" else state.embedder())
        options = IngestOptions(index=settings.index, embedder=embedder,
                                chunk_size=settings.chunk_size, overlap=settings.chunk_overlap,
                                confine_to=settings.ingest_roots,
                                source_name=settings.ingest_source,
                                max_chars=settings.ingest_max_chars)
        report = ingest_paths(user.client, [path], options,
                              progress=lambda stage, done, total: job.progress(stage, done, total))
        record = {**report.to_dict(), "paths": [path], "index": settings.index,
                  "user": user.username}
        run_records.write_record(settings.data, "ingest", record)
        bump_index_version(settings.data)
        return record

    _start(state, "ingest", f"ingest {path}", work)
    return redirect(url_for("overview.index"))


def _start(state: Any, kind: str, title: str, work: Any) -> None:
    try:
        state.jobs.start(kind, title, work)
    except JobBusy as exc:
        flash(str(exc), "error")


@bp.route("/jobs/<job_id>.json")
def job_status(job_id: str) -> tuple[Response, int] | Response:
    """The progress of a background job, for the pages to poll."""
    job = current_app.extensions["admin_ui"].jobs.get(job_id)
    if job is None:
        return jsonify(error=f"no job {job_id!r}"), 404
    return jsonify(job.as_dict())
