"""Only cluster admins get in; sessions keep no password in the cookie; every POST needs CSRF."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask
from flask.testing import FlaskClient
from ui_support import csrf_of, log_in, token

from admin_ui import access, create_app
from es_rag.config import PROJECT_ROOT, Settings
from es_rag.connect import Capabilities
from es_rag.engine.server import EngineServer

PAGES = ["/", "/overview", "/playground", "/playground?q=quota", "/tuning",
         "/tuning?template=bm25", "/evaluation"]


def test_every_page_sends_an_anonymous_visitor_to_login(app: Flask) -> None:
    client = app.test_client()
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.location.startswith("/auth/login?next="), page
    assert client.get("/jobs/eval-1.json").status_code == 401


def test_login_returns_to_the_page_asked_for_but_never_off_site(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/auth/login?next=/tuning").get_data(as_text=True)
    response = client.post("/auth/login", data={"username": "admin", "password": "x",
                                                "next": "/tuning", "csrf_token": csrf_of(page)})
    assert response.location == "/tuning"
    other = app.test_client()
    page = other.get("/auth/login").get_data(as_text=True)
    response = other.post("/auth/login", data={"username": "admin", "password": "x",
                                               "next": "//evil.example/", "csrf_token":
                                               csrf_of(page)})
    assert response.location == "/overview"


def test_a_cluster_without_security_is_refused_unless_development_mode(
        settings: Settings) -> None:
    client = create_app(settings).test_client()
    response = log_in(client)
    assert response.status_code == 401
    assert "Security is disabled on the cluster" in response.get_data(as_text=True)
    assert client.get("/overview").status_code == 302


@dataclass
class FakeSecurity:
    me: dict[str, Any]

    def authenticate(self) -> Any:
        return type("Response", (), {"body": self.me})()


@dataclass
class FakeClient:
    """Stands in for a client of a security-enabled cluster that knows one user."""

    me: dict[str, Any]
    closed: bool = False
    security: FakeSecurity = field(init=False)

    def __post_init__(self) -> None:
        self.security = FakeSecurity(self.me)

    def close(self) -> None:
        self.closed = True


def _secure_caps() -> Capabilities:
    return Capabilities(url="https://cluster.example:9200", engine="elasticsearch",
                        version="9.1.0", major=9, minor=1, distribution="default",
                        license_type="trial", license_status="active", security_enabled=True,
                        retriever=True, rank_rrf=False, rrf_licensed=True, ml_inference=True)


@pytest.fixture(scope="module")
def secured_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real engine with security on and users alice (es-rag-admin), root (superuser) and
    bob (es-rag-reader), their roles applied from the repository's roles/ files."""
    server = EngineServer(tmp_path_factory.mktemp("secured"), port=0,
                          elastic_password="elastic-pw").start()
    admin = Elasticsearch(server.url, basic_auth=("elastic", "elastic-pw"))
    for role in ("es-rag-admin", "es-rag-reader"):
        admin.security.put_role(name=role, **json.loads(
            (PROJECT_ROOT / "roles" / f"{role}.json").read_text()))
    for name, roles in (("alice", ["es-rag-admin"]), ("root", ["superuser"]),
                        ("bob", ["es-rag-reader"])):
        admin.security.put_user(username=name, password=f"{name}-pw", roles=roles,
                                metadata={"groups": []})
    admin.close()
    yield server.url
    server.stop()


@pytest.fixture
def secured(settings: Settings, secured_engine: str) -> Settings:
    """The UI's settings pointed at the secured engine, with no credentials of its own."""
    return dataclasses.replace(settings, url=secured_engine, user=None, password=None,
                               api_key=None)


def _login_error(response: Any) -> str:
    match = re.search(r'role="alert">([^<]*)<', response.get_data(as_text=True))
    assert match, "the login page shows no error"
    return match.group(1)


def test_on_a_secured_cluster_only_admins_and_superusers_get_in(secured: Settings) -> None:
    app = create_app(secured)
    refused = log_in(app.test_client(), "bob", "bob-pw")  # right password, not an admin
    wrong = log_in(app.test_client(), "alice", "nope")
    unknown = log_in(app.test_client(), "nobody", "nope")
    for response in (refused, wrong, unknown):  # the page never confirms a password
        assert response.status_code == 401
        assert _login_error(response) == "Wrong user name or password."
    for name, password in (("alice", "alice-pw"), ("root", "root-pw")):
        response = log_in(app.test_client(), name, password)
        assert response.status_code == 302 and response.location == "/overview", name


def test_failed_logins_are_throttled_per_user_name_and_per_address(secured: Settings) -> None:
    app = create_app(dataclasses.replace(secured, login_max_failures=2))

    def attempt(username: str, password: str, address: str) -> Any:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return log_in(client, username, password)

    for _ in range(2):
        assert attempt("alice", "guess", "10.0.0.1").status_code == 401
    throttled = attempt("alice", "alice-pw", "10.0.0.2")  # not even checked
    assert throttled.status_code == 429 and throttled.mimetype == "text/html"
    assert int(throttled.headers["Retry-After"]) > 0
    assert _login_error(throttled).startswith("Too many failed logins for this user name or "
                                              "from this address. Try again in ")
    assert attempt("root", "root-pw", "10.0.0.1").status_code == 302  # others still get in
    for n in range(8):  # 4 x login_max_failures from one address, over many user names
        assert attempt(f"user{n}", "guess", "10.0.0.3").status_code == 401
    assert attempt("root", "root-pw", "10.0.0.3").status_code == 429
    assert attempt("root", "root-pw", "10.0.0.4").status_code == 302


def _cookie_payload(client: FlaskClient) -> str:
    cookie = client.get_cookie("es_rag_admin")
    assert cookie is not None
    data = cookie.value
    compressed = data.startswith(".")
    raw = base64.urlsafe_b64decode(data.lstrip(".").split(".")[0] + "==")
    return (zlib.decompress(raw) if compressed else raw).decode()


def test_the_session_cookie_holds_no_password_and_has_secure_defaults(
        secured: Settings) -> None:
    client = create_app(secured).test_client()
    response = log_in(client, "alice", "alice-pw")
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    payload = json.loads(_cookie_payload(client))
    assert set(payload) <= {"sid", "csrf_token", "_flashes"}
    assert "alice-pw" not in json.dumps(payload)

    over_https = create_app(secured).test_client()
    page = over_https.get("/auth/login", base_url="https://localhost").get_data(as_text=True)
    response = over_https.post("/auth/login", base_url="https://localhost",
                               data={"username": "alice", "password": "alice-pw",
                                     "csrf_token": csrf_of(page)})
    assert "Secure" in response.headers["Set-Cookie"]


def test_logout_forgets_the_session(browser_client: FlaskClient) -> None:
    response = browser_client.post("/auth/logout", data={"csrf_token": token(browser_client)})
    assert response.location == "/auth/login"
    assert browser_client.get("/overview").status_code == 302


def test_posts_without_the_csrf_token_are_rejected(browser_client: FlaskClient) -> None:
    for path, data in (("/auth/logout", {}),
                       ("/playground/judge", {"q": "quota", "doc_id": "storage", "grade": "1"}),
                       ("/tuning/hybrid/save", {"rank_constant": "20"}),
                       ("/evaluation/run", {"configs": "bm25"}),
                       ("/overview/apply", {})):
        response = browser_client.post(path, data=data)
        assert response.status_code == 400, path
        assert "CSRF token is missing or invalid" in response.get_data(as_text=True)
        forged = browser_client.post(path, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 400, path
    assert browser_client.get("/overview").status_code == 200  # still logged in


def test_login_itself_needs_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    client.get("/auth/login")
    response = client.post("/auth/login", data={"username": "admin", "password": "x"})
    assert response.status_code == 400


def test_pages_forbid_framing_and_inline_scripts(browser_client: FlaskClient) -> None:
    headers = browser_client.get("/overview").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


def test_sessions_expire_when_idle(settings: Settings) -> None:
    store = access.SessionStore(idle_seconds=0)
    user = access.ClusterUser("alice", ["es-rag-admin"], FakeClient({}), _secure_caps(), True)
    sid = store.add(user)
    assert store.get(sid) is None and user.client.closed


def test_development_mode_is_only_served_on_loopback(settings: Settings) -> None:
    from admin_ui import serve

    with pytest.raises(ValueError, match="refusing to serve the admin UI on 0.0.0.0"):
        serve(settings, host="0.0.0.0", allow_without_security=True)
