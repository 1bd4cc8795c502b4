"""Tuning as code: write chosen parameters into `templates/search/*.mustache`, diff first, apply.

The search template files are the only place tuned values live; saving writes the file and
stores it on the cluster as the new version of that template (through `es_rag.assets`).
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from admin_ui.access import current_user
from es_rag import assets
from es_rag.assets import file_diff, set_template_defaults, template_defaults

bp = Blueprint("tuning", __name__, url_prefix="/tuning")

_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")


def _templates(root: Path) -> dict[str, assets.Asset]:
    return {t.name: t for t in assets.load_assets(root).templates}


def _chosen(template: assets.Asset) -> tuple[dict[str, str], dict[str, str]]:
    """(current defaults, values sent by the form or link) for the template's parameters."""
    current = template_defaults(template.path.read_text(encoding="utf-8"))
    sent = {name: request.values[name].strip() for name in current
            if request.values.get(name, "").strip()}
    for name, value in sent.items():
        if not _NUMBER_RE.match(value):
            abort(400, description=f"{name}: {value!r} is not a number")
    return current, sent


def _load(name: str) -> assets.Asset:
    try:
        templates = _templates(current_app.extensions["admin_ui"].settings.assets)
    except assets.AssetError as exc:
        abort(400, description=str(exc))
    if name not in templates:
        abort(404)
    return templates[name]


@bp.route("")
def index() -> str | Response:
    """The templates and their tunable defaults; values from the playground come prefilled."""
    root = current_app.extensions["admin_ui"].settings.assets
    try:
        templates = _templates(root)
    except assets.AssetError as exc:
        return render_template("tuning/index.html", error=str(exc), templates={}, name=None,
                               current={}, proposed={})
    name = request.args.get("template") or ("hybrid" if "hybrid" in templates
                                            else next(iter(templates), None))
    if name is None or name not in templates:
        return render_template("tuning/index.html", error=f"no search template {name!r}",
                               templates=templates, name=None, current={}, proposed={})
    current, sent = _chosen(templates[name])
    return render_template("tuning/index.html", error=None, templates=templates, name=name,
                           current=current, proposed={**current, **sent},
                           path=templates[name].path.relative_to(root))


@bp.route("/<name>/preview", methods=["POST"])
def preview(name: str) -> str:
    """The diff that saving would write, with a button to save and apply it."""
    template = _load(name)
    _, sent = _chosen(template)
    before = template.path.read_text(encoding="utf-8")
    after = set_template_defaults(before, sent)
    root = current_app.extensions["admin_ui"].settings.assets
    return render_template("tuning/preview.html", name=name, sent=sent,
                           diff=file_diff(template.path, before, after),
                           path=template.path.relative_to(root))


@bp.route("/<name>/save", methods=["POST"])
def save(name: str) -> Response:
    """Write the template file, then store it on the cluster; the file is restored on failure."""
    template = _load(name)
    _, sent = _chosen(template)
    user = current_user()
    assert user is not None
    root = current_app.extensions["admin_ui"].settings.assets
    before = template.path.read_text(encoding="utf-8")
    after = set_template_defaults(before, sent)
    if after == before:
        flash(f"{template.path.relative_to(root)} already has these values.")
        return redirect(url_for("tuning.index", template=name))
    template.path.write_text(after, encoding="utf-8")
    try:
        changed = _templates(root)[name]
        assets.apply(user.client, user.caps,
                     assets.Assets(indices=[], pipelines=[], templates=[changed], roles=[]))
    except (assets.AssetError, assets.ApplyError) as exc:
        template.path.write_text(before, encoding="utf-8")
        flash(f"Not saved: {exc}", "error")
        return redirect(url_for("tuning.index", template=name, **sent))
    flash(f"Saved {template.path.relative_to(root)} and stored it as search template {name}.")
    return redirect(url_for("tuning.index", template=name))
