"""Who may use the admin UI: cluster logins, server-side sessions, CSRF tokens, cookie defaults.

The browser's (signed) cookie holds only a random session id and the CSRF token; the cluster
client with the user's credentials stays in this process's memory, keyed by that id.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch
from flask import Flask, Response, abort, jsonify, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from es_rag.config import Settings
from es_rag.connect import Capabilities, ConnectError, connect
from es_rag.errors import EsRagError

ADMIN_ROLE = "es-rag-admin"
SUPERUSER_ROLE = "superuser"
SESSION_IDLE_SECONDS = 8 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})


WRONG_LOGIN = "Wrong user name or password."


class LoginRefused(EsRagError):
    """The login cannot go ahead; the message says why, in words fit for the login page.

    `bad_credentials` marks refusals of the credentials themselves (counted by the throttle).
    """

    def __init__(self, message: str, *, bad_credentials: bool = False) -> None:
        super().__init__(message)
        self.bad_credentials = bad_credentials


def _wrong_login() -> LoginRefused:
    """A wrong password and the right password of a user who may not enter get one answer, so
    the login page never confirms a password."""
    return LoginRefused(WRONG_LOGIN, bad_credentials=True)


@dataclass
class ClusterUser:
    """A logged-in admin: their own cluster client (their credentials) and what they can do."""

    username: str
    roles: list[str]
    client: Elasticsearch
    caps: Capabilities
    authenticated_by_cluster: bool
    last_seen: float = field(default_factory=time.monotonic)


def login(settings: Settings, username: str, password: str, *,
          allow_without_security: bool) -> ClusterUser:
    """Check the credentials with the cluster (`_security/_authenticate`) and the admin role.

    Wrong credentials and a user without the admin role are refused alike (`WRONG_LOGIN`). On a
    cluster with security disabled nobody can be checked: the login is refused unless
    `allow_without_security` (development only) is set.
    """
    username = username.strip()
    if not username:
        raise LoginRefused("Enter your user name.")
    try:
        client, caps = connect(dataclasses.replace(settings, user=username, password=password,
                                                   api_key=None))
    except ConnectError as exc:
        if exc.status in (401, 403):
            raise _wrong_login() from None
        raise LoginRefused(str(exc)) from None
    if not caps.security_enabled:
        if not allow_without_security:
            client.close()
            raise LoginRefused(
                f"Security is disabled on the cluster at {caps.url}, so it cannot check who "
                "you are. The admin UI only opens without login when started for development "
                "with allow_without_security.")
        return ClusterUser(username, [SUPERUSER_ROLE], client, caps, False)
    if not password:
        client.close()
        raise LoginRefused("Enter your password.")
    try:
        me = client.security.authenticate().body
    except ApiError as exc:
        client.close()
        if exc.meta.status in (401, 403):
            raise _wrong_login() from None
        raise LoginRefused(f"The cluster refused to authenticate {username}: "
                           f"{exc.message}") from None
    roles = list(me.get("roles") or [])
    if ADMIN_ROLE not in roles and SUPERUSER_ROLE not in roles:
        client.close()
        raise _wrong_login()
    return ClusterUser(str(me.get("username") or username), roles, client, caps, True)


class SessionStore:
    """Logged-in users by random session id, in memory; idle sessions expire."""

    def __init__(self, idle_seconds: float = SESSION_IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._users: dict[str, ClusterUser] = {}
        self._lock = threading.Lock()

    def add(self, user: ClusterUser) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._users[sid] = user
        return sid

    def get(self, sid: str | None) -> ClusterUser | None:
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            user = self._users.get(sid)
            if user is None:
                return None
            if now - user.last_seen > self.idle_seconds:
                del self._users[sid]
                user.client.close()
                return None
            user.last_seen = now
            return user

    def remove(self, sid: str | None) -> None:
        with self._lock:
            user = self._users.pop(sid or "", None)
        if user is not None:
            user.client.close()


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def csrf_token() -> str:
    """This session's CSRF token (created on first use); every POST form carries it."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return str(token)


def _check_csrf() -> None:
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not expected or not sent or not secrets.compare_digest(str(expected), str(sent)):
        abort(400, description="The form's CSRF token is missing or invalid: reload the page "
                               "and try again.")


def _guard() -> Any:
    if request.method == "POST":
        _check_csrf()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user() is None:
        if request.path.endswith(".json"):
            return jsonify(error="login required"), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


def current_user() -> ClusterUser | None:
    """The logged-in user of this request, or None."""
    from flask import current_app

    store: SessionStore = current_app.extensions["admin_ui"].sessions
    return store.get(session.get("sid"))


def _security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def install(app: Flask) -> None:
    """Secure cookie defaults, the login and CSRF guard on every request, security headers."""
    app.session_interface = _SessionInterface()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="es_rag_admin")
    app.before_request(_guard)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user,
                                 CSRF_FIELD=CSRF_FIELD)
