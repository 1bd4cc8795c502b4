"""Log in with the cluster's own users (admins only) and log out.

Failed logins are throttled per user name and per client address (`login_max_failures` within
`login_window`, see es_rag.config): further attempts get 429 without reaching the cluster.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from admin_ui import access

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("overview.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """The login form; a POST checks the credentials with the cluster."""
    state = current_app.extensions["admin_ui"]
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url, error=None,
                               dev_mode=state.allow_without_security)
    username = request.form.get("username", "")
    throttled = state.login_throttle.check(username.strip(), request.remote_addr)
    if throttled is not None:
        message = (f"Too many failed logins for this user name or from this address. Try "
                   f"again in {throttled.retry_after} seconds.")
        page = render_template("auth/login.html", next_url=next_url, error=message,
                               username=username, dev_mode=state.allow_without_security)
        return page, 429, {"Retry-After": str(throttled.retry_after)}
    try:
        user = access.login(state.settings, username, request.form.get("password", ""),
                            allow_without_security=state.allow_without_security)
    except access.LoginRefused as exc:
        if exc.bad_credentials:
            state.login_throttle.failed(username.strip(), request.remote_addr)
        return render_template("auth/login.html", next_url=next_url, error=str(exc),
                               username=username, dev_mode=state.allow_without_security), 401
    state.sessions.remove(session.get("sid"))
    session.clear()  # a fresh session (and CSRF token) for the logged-in user
    session["sid"] = state.sessions.add(user)
    flash(f"Logged in as {user.username}.")
    return redirect(next_url)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Forget the session and its credentials."""
    current_app.extensions["admin_ui"].sessions.remove(session.get("sid"))
    session.clear()
    flash("Logged out.")
    return redirect(url_for("auth.login"))
