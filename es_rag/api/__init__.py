"""The HTTP API for applications: `/api/search`, `/api/ask` (JSON or SSE), health, OpenAPI.

Every request runs with the caller's own cluster credentials, so document-level security
applies to what it retrieves and cites.

>>> app = create_api_app(load_settings())     # doctest: +SKIP
>>> serve_api(load_settings(), port=8000)     # doctest: +SKIP
"""

from .app import create_api_app, serve_api
from .clients import ClientCache, ClientFactory
from .errors import ApiError
from .routes import bp

__all__ = ["ApiError", "ClientCache", "ClientFactory", "bp", "create_api_app", "serve_api"]
