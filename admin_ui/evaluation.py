"""Judgments & evaluation: run the playground's judgments through es_rag.evaluate, show history
and the models in use with each fine-tune's before/after metrics."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from admin_ui.access import current_user
from admin_ui.jobs import Job, JobBusy
from admin_ui.models_view import models_view
from admin_ui.playground_judgments import PlaygroundJudgments
from es_rag import run_records
from es_rag.evaluate import METRICS, EvalConfigError, EvaluationReport, parse_configs, run_configs

bp = Blueprint("evaluation", __name__, url_prefix="/evaluation")

DEFAULT_CONFIGS = "current,bm25,knn,hybrid"
CHART_METRICS = ("ndcg@10", "recall@10", "mrr@10")


def chart(summary: dict[str, Any]) -> dict[str, Any]:
    """Bar geometry for the metrics chart (an inline SVG the template draws)."""
    configs = list(summary.get("configs", {}))
    bar, gap, group_gap, height = 18, 4, 28, 160
    groups = []
    x = 40
    for metric in CHART_METRICS:
        bars = []
        for i, name in enumerate(configs):
            value = float(summary["configs"][name].get(metric, 0.0))
            h = round(value * height, 1)
            bars.append({"config": name, "value": value, "x": x, "y": 10 + height - h, "h": h,
                         "color": i % 6})
            x += bar + gap
        groups.append({"metric": metric, "bars": bars,
                       "label_x": x - (bar + gap) * len(configs) / 2 - gap / 2})
        x += group_gap
    return {"groups": groups, "width": x + 10, "height": height, "bar": bar,
            "legend": [{"config": n, "color": i % 6} for i, n in enumerate(configs)]}


@bp.route("")
def index() -> str:
    """Judgment counts, the run form and its progress, the latest results and the history."""
    state = current_app.extensions["admin_ui"]
    store = PlaygroundJudgments(state.settings.assets)
    queries, qrels = store.load()
    history = run_records.read_records(state.settings.data, "eval")
    latest = history[0] if history else None
    return render_template(
        "evaluation/index.html", judged_queries=len(qrels),
        judgments=sum(len(d) for d in qrels.values()),
        usable=len(store.judgments().queries), qrels_path=store.qrels_path,
        configs=request.args.get("configs", DEFAULT_CONFIGS), job=state.jobs.latest("eval"),
        history=history, latest=latest, metrics=METRICS,
        chart=chart(latest["summary"]) if latest else None, queries=queries,
        models=models_view(state.settings))


@bp.route("/run", methods=["POST"])
def run() -> Response:
    """Start an evaluation of the configurations over the playground judgments."""
    state = current_app.extensions["admin_ui"]
    user = current_user()
    assert user is not None
    spec = request.form.get("configs", "").strip() or DEFAULT_CONFIGS
    try:
        configs = parse_configs(spec)
    except EvalConfigError as exc:
        flash(str(exc), "error")
        return redirect(url_for("evaluation.index", configs=spec))
    judgments = PlaygroundJudgments(state.settings.assets).judgments()
    if not judgments.queries:
        flash("No query has a result marked relevant yet: judge some results in the "
              "playground first.", "error")
        return redirect(url_for("evaluation.index", configs=spec))
    settings = state.settings

    def work(job: Job) -> dict[str, Any]:
        job.progress("loading the embedding model")
        embedder = state.embedder()
        results = run_configs(user.client, user.caps, settings.index, judgments, configs,
                              embedder, progress=job.progress)
        report = EvaluationReport(dataset="playground", split="playground", subset="all",
                                  index=settings.index, judgments=judgments, configs=results)
        record = {"configs": spec, "user": user.username, "summary": report.summary()}
        run_records.write_record(settings.data, "eval", record)
        return record

    try:
        state.jobs.start("eval", f"evaluate {spec}", work)
    except JobBusy as exc:
        flash(str(exc), "error")
    return redirect(url_for("evaluation.index", configs=spec))
