"""Tuning as code: write chosen retrieval parameters into `retrieval.json`, diff first, apply.

`retrieval.json` is the only place tuned values live; saving writes the file and stores it on
the cluster (with the search templates, whose defaults it sets) through `es_rag.assets`, so the
CLI, the API, the playground and evaluations answer with the new values.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from admin_ui.access import current_user
from es_rag import assets
from es_rag.answer_cache import bump_index_version
from es_rag.assets import file_diff
from es_rag.retrieve.defaults import (
    FILE_NAME,
    RetrievalDefaults,
    RetrievalFileError,
    parse_defaults,
    read_file,
    read_stored,
    write_file,
)
from es_rag.retrieve.params import DEFAULT_BOOSTS, LEGS

bp = Blueprint("tuning", __name__, url_prefix="/tuning")

FIELDS = ("mode", "rank_constant", "rank_window_size", "k", "num_candidates", "fusion",
          "normalizer", *(f"weight_{leg}" for leg in LEGS),
          *(f"boost_{name}" for name in DEFAULT_BOOSTS), "rerank_top_n")
"""The form's fields: the playground's "Save as code" link sends the same names."""


def form_values(defaults: RetrievalDefaults) -> dict[str, str]:
    """The parameters as the form shows them (strings, by field name)."""
    values = defaults.values()
    shown = {name: str(values[name]) for name in FIELDS[:7]}
    shown.update({f"weight_{leg}": f"{weight:g}" for leg, weight in values["weights"].items()})
    shown.update({f"boost_{name}": f"{boost:g}" for name, boost in values["boosts"].items()})
    shown["rerank_top_n"] = str(values["rerank"]["top_n"])
    return shown


def _number(name: str, raw: str, kind: type) -> Any:
    try:
        return kind(raw)
    except ValueError:
        abort(400, description=f"{name}: {raw!r} is not a {'whole ' if kind is int else ''}"
                               "number")


def _proposed(current: RetrievalDefaults) -> RetrievalDefaults:
    """The file's parameters with the values the form (or link) sent; a bad value is a 400."""
    sent = {name: request.values[name].strip() for name in FIELDS
            if request.values.get(name, "").strip()}
    data = current.as_file()
    for name, raw in sent.items():
        if name == "mode":
            data["mode"] = raw
        elif name.startswith("boost_"):
            data["boosts"][name.removeprefix("boost_")] = _number(name, raw, float)
        elif name in ("k", "num_candidates"):
            data["knn"][name] = _number(name, raw, int)
        elif name == "rerank_top_n":
            data["rerank"]["top_n"] = _number(name, raw, int)
        elif name == "fusion":
            data["fusion"]["kind"] = raw
        elif name == "normalizer":
            data["fusion"]["normalizer"] = raw
        elif name.startswith("weight_"):
            weights = data["fusion"].setdefault("weights", {"bm25": 1.0, "knn": 1.0})
            weights[name.removeprefix("weight_")] = _number(name, raw, float)
        else:
            data["fusion"][name] = _number(name, raw, int)
    if data["fusion"].get("kind") != "linear":
        data["fusion"].pop("normalizer", None)  # RRF has none; the form always sends one
    try:
        return parse_defaults(data, FILE_NAME, "file")
    except RetrievalFileError as exc:
        abort(400, description=str(exc))


def _current() -> RetrievalDefaults:
    try:
        return read_file(current_app.extensions["admin_ui"].settings.assets)
    except RetrievalFileError as exc:
        abort(400, description=str(exc))


@bp.route("")
def index() -> str:
    """The parameters in the file, as applied in the cluster, and the proposed values."""
    user = current_user()
    assert user is not None
    current = _current()
    stored: dict[str, str] | None
    try:
        found = read_stored(user.client)
        stored = form_values(found) if found.origin == "cluster" else None
    except RetrievalFileError:
        stored = None
    return render_template("tuning/index.html", current=form_values(current), stored=stored,
                           proposed=form_values(_proposed(current)), path=FILE_NAME)


@bp.route("/preview", methods=["POST"])
def preview() -> str:
    """The diff that saving would write, with a button to save and apply it."""
    current = _current()
    proposed = _proposed(current)
    return render_template("tuning/preview.html", sent=form_values(proposed), path=FILE_NAME,
                           diff=_diff(current, proposed))


def _diff(current: RetrievalDefaults, proposed: RetrievalDefaults) -> str:
    path = current_app.extensions["admin_ui"].settings.assets / FILE_NAME
    before = path.read_text(encoding="utf-8") if path.is_file() else ""
    return file_diff(path, before, proposed.to_json())


def apply_retrieval(user: Any, root: Any) -> list[assets.Change]:
    """Store `retrieval.json` and the search templates it sets on the cluster."""
    loaded = assets.load_assets(root)
    return assets.apply(user.client, user.caps, assets.Assets(
        indices=[], pipelines=[], templates=loaded.templates, roles=[],
        retrieval=loaded.retrieval))


@bp.route("/save", methods=["POST"])
def save() -> Response:
    """Write `retrieval.json`, then store it on the cluster; the file is restored on failure."""
    user = current_user()
    assert user is not None
    root = current_app.extensions["admin_ui"].settings.assets
    current = _current()
    proposed = _proposed(current)
    path = root / FILE_NAME
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    if before == proposed.to_json():
        flash(f"{FILE_NAME} already has these values.")
        return redirect(url_for("tuning.index"))
    write_file(root, proposed)
    try:
        apply_retrieval(user, root)
    except (assets.AssetError, assets.ApplyError) as exc:
        if before is None:
            path.unlink()
        else:
            path.write_text(before, encoding="utf-8")
        flash(f"Not saved: {exc}", "error")
        return redirect(url_for("tuning.index", **form_values(proposed)))
    bump_index_version(current_app.extensions["admin_ui"].settings.data)
    flash(f"Saved {FILE_NAME} and stored it on the cluster: every search now uses it.")
    return redirect(url_for("tuning.index"))
