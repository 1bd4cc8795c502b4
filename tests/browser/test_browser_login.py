"""A visitor guessing passwords in Chromium: one answer for every refusal, then a lockout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from admin_ui import create_app
from es_rag.config import Settings
from es_rag.engine.server import EngineServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def secured_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The admin UI in front of an engine with security on: `root` (superuser) and `bob`
    (no admin role); two failed logins per user name are allowed."""
    data = tmp_path_factory.mktemp("secured-ui")
    server = EngineServer(data / "engine", port=0, elastic_password="elastic-pw").start()
    admin = Elasticsearch(server.url, basic_auth=("elastic", "elastic-pw"))
    admin.security.put_user(username="root", password="root-pw", roles=["superuser"])
    admin.security.put_user(username="bob", password="bob-pw", roles=[])
    admin.close()
    app = create_app(Settings(url=server.url, data=data / ".es-rag", login_max_failures=2))
    web = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{web.server_port}"
    web.shutdown()
    server.stop()


def _log_in(page: Page, base: str, username: str, password: str) -> Any:
    page.goto(f"{base}/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_response(f"{base}/auth/login") as response:
        page.click("button[type=submit]")
    return response.value


def test_guessed_passwords_get_one_answer_then_a_lockout(browser: Any, secured_ui: str,
                                                         screenshots: Path) -> None:
    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    alert = page.locator("[role=alert]")
    assert _log_in(page, secured_ui, "bob", "bob-pw").status == 401  # right, but no admin
    expect(alert).to_have_text("Wrong user name or password.")
    assert _log_in(page, secured_ui, "bob", "guess").status == 401
    expect(alert).to_have_text("Wrong user name or password.")
    locked = _log_in(page, secured_ui, "bob", "bob-pw")
    assert locked.status == 429
    expect(alert).to_contain_text("Too many failed logins for this user name or from this "
                                  "address. Try again in ")
    page.screenshot(path=str(screenshots / "08-login-throttled.png"), full_page=True)
    assert _log_in(page, secured_ui, "root", "root-pw").status == 302
    expect(page).to_have_url(f"{secured_ui}/overview")
    page.context.close()
