"""Playground: one query, four retrieval modes side by side, live controls, judgments."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

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
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from admin_ui.access import ClusterUser, current_user
from admin_ui.playground_judgments import NOT_RELEVANT, RELEVANT, PlaygroundJudgments
from es_rag.retrieve import Hit, Mode, SearchError, SearchParams, search
from es_rag.retrieve.defaults import RetrievalDefaults, read_stored
from es_rag.retrieve.params import DEFAULT_BOOSTS, LEGS, NORMALIZERS
from es_rag.retrieve.queries import CHUNKS, Layout
from es_rag.sources import SourceError, load_sources
from es_rag.sources.layout import check_query_model, source_layout

bp = Blueprint("playground", __name__, url_prefix="/playground")

BOOST_FIELDS = tuple(DEFAULT_BOOSTS)


def int_defaults(defaults: RetrievalDefaults) -> dict[str, int]:
    """The number controls' values when the form leaves them out: the stored parameters."""
    p = defaults.params
    return {"size": p.size, "k": p.k, "num_candidates": p.num_candidates,
            "rank_constant": p.rank_constant, "rank_window_size": p.rank_window_size,
            "rerank_top_n": p.rerank.top_n}


def fusion_defaults(defaults: RetrievalDefaults) -> dict[str, str]:
    """The fusion controls' values when the form leaves them out: the stored parameters."""
    p = defaults.params
    return {"fusion": p.fusion.value, "normalizer": p.normalizer,
            **{f"{leg}_weight": f"{p.weights[leg]:g}" for leg in LEGS}}


MODE_LABELS = {Mode.BM25: "BM25", Mode.KNN: "kNN", Mode.HYBRID: "Hybrid",
               Mode.HYBRID_RERANK: "Hybrid + rerank"}


@dataclass
class Controls:
    """The playground's controls as the form sent them; what it left out takes the retrieval
    parameters stored in the cluster (`defaults`)."""

    query: str = ""
    as_user: str = ""
    source: str = ""
    """A defined source (sources/NAME.json) to search instead of the chunk index."""
    rerank: bool = True
    filters: str = ""
    numbers: dict[str, int] = field(default_factory=dict)
    boosts: dict[str, float] = field(default_factory=dict)
    fusion: dict[str, str] = field(default_factory=dict)
    defaults: RetrievalDefaults = field(default_factory=RetrievalDefaults)

    @classmethod
    def from_form(cls, form: MultiDict[str, str], defaults: RetrievalDefaults) -> Controls:
        numbers = {name: form.get(name, "").strip() or default
                   for name, default in int_defaults(defaults).items()}
        stored_boosts = defaults.params.boosts
        boosts = {name: form.get(f"boost_{name}", "").strip()
                  or stored_boosts.get(name, DEFAULT_BOOSTS[name]) for name in BOOST_FIELDS}
        fusion = {name: form.get(name, "").strip() or default
                  for name, default in fusion_defaults(defaults).items()}
        return cls(query=form.get("q", "").strip(), as_user=form.get("as_user", "").strip(),
                   source=form.get("source", "").strip(),
                   # off unless asked for, as in the library: rerank is the slow stage
                   rerank=form.get("rerank") == "on",
                   filters=form.get("filters", ""), numbers=numbers, boosts=boosts,
                   fusion=fusion, defaults=defaults)

    @property
    def filter_lines(self) -> list[str]:
        return [line.strip() for line in self.filters.splitlines() if line.strip()]

    def search_params(self, mode: Mode) -> SearchParams:
        """SearchParams for `mode`; bad values raise ValueError naming the control."""
        boosts = {}
        for name, raw in self.boosts.items():
            try:
                boosts[name] = float(raw)
            except ValueError:
                raise ValueError(f"boost of {name}: {raw!r} is not a number") from None
        # only what differs from the stored parameters counts as this request's override
        base = int_defaults(self.defaults)
        changed: dict[str, Any] = {name: value for name, value in self.numbers.items()
                                   if name == "size" or str(value) != str(base[name])}
        if boosts != dict(self.defaults.params.boosts):
            changed["boosts"] = boosts
        stored = fusion_defaults(self.defaults)
        changed.update({name: value for name, value in self.fusion.items()
                        if value != stored[name]})
        return self.defaults.search_params(mode=mode.value, filters=self.filter_lines,
                                           highlight=True, explain=True, **changed)

    def tuning_query(self) -> str:
        """The controls' parameters (RRF, kNN, boosts, rerank window), as query parameters of
        the tuning page, which saves them into `retrieval.json`."""
        values: dict[str, Any] = {name: self.numbers[name] for name in (
            "rank_constant", "rank_window_size", "k", "num_candidates", "rerank_top_n")}
        values.update({f"boost_{name}": value for name, value in self.boosts.items()})
        values.update(fusion=self.fusion["fusion"], normalizer=self.fusion["normalizer"])
        values.update({f"weight_{leg}": self.fusion[f"{leg}_weight"] for leg in LEGS})
        return urlencode(values)


@dataclass
class Column:
    """One mode's results, or why it has none."""

    mode: Mode
    hits: list[Hit] = field(default_factory=list)
    error: str | None = None
    took_ms: float | None = None
    path: str | None = None
    explain: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return MODE_LABELS[self.mode]


def _column(user: ClusterUser, index: str, controls: Controls, mode: Mode,
            embedder: Any, layout: Layout = CHUNKS) -> Column:
    column = Column(mode)
    try:
        params = controls.search_params(mode)
        result = search(user.client, user.caps, index, controls.query, params,
                        None if mode is Mode.BM25 else embedder,
                        as_user=controls.as_user or None, layout=layout)
    except (ValueError, SearchError) as exc:
        column.error = str(exc)
        return column
    except ApiError as exc:
        column.error = f"the cluster answered {exc.meta.status}: {exc.message}"
        return column
    column.hits, column.took_ms, column.path = result.hits, result.took_ms, result.path_used
    column.explain = result.explain
    return column


def _users(user: ClusterUser) -> list[str]:
    """Users to search as: the cluster's non-reserved users (none without security)."""
    if not user.caps.security_enabled:
        return []
    try:
        found = user.client.security.get_user().body
    except ApiError:
        return []
    return sorted(name for name, spec in found.items()
                  if not (spec.get("metadata") or {}).get("_reserved"))


@bp.route("")
def index() -> str:
    """The playground page; with a query, the four result columns."""
    state = current_app.extensions["admin_ui"]
    user = current_user()
    assert user is not None
    defaults = read_stored(user.client, fallback=state.settings.assets)
    controls = Controls.from_form(request.args, defaults)
    modes = [Mode.BM25, Mode.KNN, Mode.HYBRID] + ([Mode.HYBRID_RERANK] if controls.rerank
                                                    else [])
    columns: list[Column] = []
    grades: dict[str, int] = {}
    index, layout = _target(state, controls)
    if controls.query and layout is not None:
        embedder = _embedder_or_none(state) if getattr(layout, "needs_embedder", True) else None
        with ThreadPoolExecutor(max_workers=len(modes)) as pool:  # the modes run side by side
            columns = list(pool.map(lambda mode: _column(user, index, controls, mode, embedder,
                                                         layout), modes))
        grades = PlaygroundJudgments(state.settings.assets).grades(controls.query)
    return render_template("playground/index.html", controls=controls, columns=columns,
                           grades=grades, users=_users(user), defaults=defaults,
                           sources=sorted(_sources(state)),
                           enforces_dls=user.caps.security_enabled, normalizers=NORMALIZERS,
                           RELEVANT=RELEVANT, NOT_RELEVANT=NOT_RELEVANT)


def _sources(state: Any) -> list[str]:
    """The names of the defined sources (none when a definition cannot be read: flashed)."""
    try:
        return list(load_sources(state.settings.assets))
    except SourceError as exc:
        flash(str(exc), "error")
        return []


def _target(state: Any, controls: Controls) -> tuple[str, Layout | None]:
    """The index and layout the controls pick (layout None, flashed, for a bad source)."""
    if not controls.source:
        return state.settings.index, CHUNKS
    try:
        layout = source_layout(state.settings.assets, controls.source)
        check_query_model(layout, state.settings.embedding_model)
    except SourceError as exc:
        flash(str(exc), "error")
        return state.settings.index, None
    return layout.index, layout


def _embedder_or_none(state: Any) -> Any:
    try:
        return state.query_embedder()
    except Exception as exc:  # noqa: BLE001 - shown on the page; BM25 still works
        flash(f"The embedding model is not available, so kNN and hybrid cannot run: {exc}",
              "error")
        return None


@bp.route("/judge", methods=["POST"])
def judge() -> Response | tuple[Response, int]:
    """Mark a document relevant (1) or not (0) for a query, or forget the judgment ('')."""
    state = current_app.extensions["admin_ui"]
    raw, doc_id = request.form.get("grade", ""), request.form.get("doc_id", "")
    if "judgment" in request.form:  # the result buttons send "grade|doc_id"
        raw, _, doc_id = request.form["judgment"].partition("|")
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        grade: Any = None if raw == "" else int(raw) if raw.isdigit() else raw
        qid = PlaygroundJudgments(state.settings.assets).mark(request.form.get("q", ""),
                                                              doc_id, grade)
    except ValueError as exc:
        if wants_json:
            return jsonify(error=str(exc)), 400
        flash(str(exc), "error")
        return redirect(url_for("playground.index"))
    if wants_json:
        return jsonify(query_id=qid, doc_id=doc_id, grade=grade)
    flash("Judgment saved.")
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/playground") else url_for("playground.index"))
