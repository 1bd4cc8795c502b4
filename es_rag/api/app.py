"""The API's application factory and server: `create_api_app(settings)`, `serve_api(settings)`."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from es_rag.answer_cache import AnswerCache
from es_rag.config import Settings
from es_rag.serving import SearchEmbedder, one_model_thread, serve_wsgi

from . import observe
from .clients import ClientCache, ClientFactory, default_client_factory
from .errors import ApiError
from .routes import bp
from .state import EXTENSION, ApiState, install_leases

MAX_BODY_BYTES = 1024 * 1024


def create_api_app(settings: Settings, *, client_factory: ClientFactory | None = None,
                   embedder: Any = None, generator: Any = None,
                   client_ttl: float = 60.0) -> Flask:
    """The Flask app serving the `/api` blueprint for the cluster the settings name.

    `client_factory(authorization_header_or_None)` builds the client a request runs with
    (default: the settings' cluster URL with the caller's header and no other credentials).
    `embedder` and `generator` replace the ones the settings name (loaded on first use);
    `client_ttl` is how long a caller's client is reused.

    >>> app = create_api_app(load_settings())                     # doctest: +SKIP
    >>> app.test_client().post("/api/search", json={"query": "rrf"}).json  # doctest: +SKIP
    """
    default_factory, cluster_url = default_client_factory(settings)
    if client_factory is not None:
        cluster_url = (lambda: settings.url or "the configured cluster")  # noqa: E731
    clients = ClientCache(client_factory or default_factory, cluster_url,
                          embedded=settings.uses_engine, ttl=client_ttl)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = ApiState(
        settings, clients, SearchEmbedder(settings, embedder),
        AnswerCache(settings.data, settings.answer_cache_seconds), _generator=generator)
    app.register_blueprint(bp)
    install_leases(app, clients)
    observe.install(app)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        # routing errors (404, 405) happen before the blueprint is known
        if not request.path.startswith(bp.url_prefix or "/api"):
            return exc
        reason = exc.description or exc.name
        if exc.code == 404:
            reason = f"no route {request.path} (see /api/openapi.json)"
        elif exc.code == 405:
            reason = f"{request.method} is not allowed on {request.path}"
        return ApiError(exc.code or 500, exc.name.lower().replace(" ", "_"), reason).response()

    return app


def serve_api(settings: Settings, host: str = "127.0.0.1", port: int = 8000,
              **options: Any) -> None:
    """Serve the API until interrupted (waitress when installed, else werkzeug's server).

    `options` go to `create_api_app`.
    """
    one_model_thread()
    serve_wsgi(create_api_app(settings, **options), host, port)
