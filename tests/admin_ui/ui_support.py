"""Helpers for the admin UI tests: the corpus they search and how to log in and post forms."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from retrieve.corpus import CORPUS, _chunk

INDEX = "ui-chunks"
SCRIPT_TEXT = "Evil <script>alert('xss')</script> payload hidden in a quota document"
UI_CORPUS = [*CORPUS, _chunk("evil#0", "Untrusted <b>quota</b>", SCRIPT_TEXT, acl=("mallory",))]
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: FlaskClient, username: str = "admin", password: str = "secret") -> Any:
    """Post the login form as a browser would (token from the login page)."""
    page = client.get("/auth/login").get_data(as_text=True)
    return client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": csrf_of(page)})


def token(client: FlaskClient, path: str = "/overview") -> str:
    """The CSRF token of the logged-in session, read from a page."""
    return csrf_of(client.get(path).get_data(as_text=True))
