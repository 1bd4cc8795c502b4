"""The es-rag admin UI: a Flask app over the library to inspect, tune and evaluate relevance.

>>> from es_rag.config import load_settings
>>> app = create_app(load_settings())        # doctest: +SKIP
>>> serve(load_settings(), port=5601)        # doctest: +SKIP
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, render_template

from admin_ui import access
from admin_ui.highlight import highlight_html
from admin_ui.jobs import Jobs
from es_rag.config import Settings
from es_rag.embedding.cache import VectorCache
from es_rag.embedding.protocols import ClusterQueryEmbedder
from es_rag.engine.security.throttle import LoginThrottle, ThrottleSettings
from es_rag.run_records import display_time
from es_rag.serving import SearchEmbedder, serve_wsgi

RECENT_QUERIES = 512  # the playground remembers the vectors of this many distinct queries


@dataclass
class UIState:
    """What the app keeps for its lifetime: settings, sessions, jobs and the embedding model."""

    settings: Settings
    embedder: SearchEmbedder
    allow_without_security: bool = False
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    sessions: access.SessionStore = field(default_factory=access.SessionStore)
    jobs: Jobs = field(default_factory=Jobs)
    _query_vectors: VectorCache | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def query_embedder(self) -> Any:
        """The embedder behind a cache of recent query vectors (for the playground); the
        embedder itself when the cluster embeds queries (nothing is embedded here to cache)."""
        embedder = self.embedder()
        if isinstance(embedder, ClusterQueryEmbedder):
            return embedder
        with self._lock:
            if self._query_vectors is None:
                self._query_vectors = VectorCache(embedder, size=RECENT_QUERIES,
                                                  passages=False)
            return self._query_vectors


def create_app(settings: Settings, *, allow_without_security: bool = False,
               secret_key: bytes | None = None, embedder: Any = None,
               secure_cookies: bool = False) -> Flask:
    """Build the admin UI for the cluster the settings name.

    `allow_without_security` lets anyone in when the cluster has security disabled (local
    development only). `secret_key` signs session cookies (random per process by default, so
    a restart logs everyone out, as credentials are only held in memory). `embedder` replaces
    the settings' embedding model (tests). `secure_cookies` marks cookies Secure even on http
    (behind a TLS-terminating proxy); over https they are always Secure.
    """
    from admin_ui import answers, auth, evaluation, overview, playground, playground_answer, tuning

    app = Flask(__name__)
    if secret_key is not None:
        app.config["SECRET_KEY"] = secret_key
    app.config["SESSION_COOKIE_SECURE"] = secure_cookies
    throttle = LoginThrottle(ThrottleSettings(
        settings.login_max_failures, 4 * settings.login_max_failures, settings.login_window))
    state = UIState(settings, SearchEmbedder(settings, embedder),
                    allow_without_security=allow_without_security, login_throttle=throttle)
    app.extensions["admin_ui"] = state
    access.install(app)
    app.jinja_env.filters.update(highlight=highlight_html, run_time=display_time)
    for module in (auth, overview, playground, playground_answer, tuning, evaluation, answers):
        app.register_blueprint(module.bp)
    app.add_url_rule("/", endpoint="index", view_func=overview.index)

    @app.errorhandler(400)
    def bad_request(error: Any) -> tuple[str, int]:
        return render_template("error.html", title="Bad request",
                               message=error.description), 400

    @app.errorhandler(404)
    def not_found(error: Any) -> tuple[str, int]:
        return render_template("error.html", title="Not found",
                               message="There is no page at this address."), 404

    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 5601, **options: Any) -> None:
    """Serve the admin UI (waitress when installed, else werkzeug's server) until interrupted.

    `options` go to `create_app`. Development mode (`allow_without_security`) only listens on
    loopback addresses: anyone who reaches it is an administrator.
    """
    if options.get("allow_without_security") and host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"refusing to serve the admin UI on {host} without login "
                         "(allow_without_security): use 127.0.0.1, or enable security on the "
                         "cluster")
    serve_wsgi(create_app(settings, **options), host, port)


def state_of(app: Flask) -> UIState:
    """The UI state of an app made by `create_app`."""
    return app.extensions["admin_ui"]
