"""`es-rag serve` runs the API on a production WSGI server at the host and port asked for."""

from __future__ import annotations

from typing import Any

import pytest
import waitress

from es_rag.api import serve_api
from es_rag.config import Settings


def test_serve_api_serves_the_api_app_with_waitress(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **options: served.update(app=app,
                                                                                 **options))
    serve_api(Settings(url="http://127.0.0.1:9"), host="127.0.0.1", port=8123)
    assert served["host"] == "127.0.0.1" and served["port"] == 8123
    response = served["app"].test_client().get("/api/openapi.json")
    assert response.status_code == 200 and "/api/ask" in response.json["paths"]
