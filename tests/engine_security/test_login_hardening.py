"""Passwords are stored with a strong KDF, upgraded at login; failed logins are throttled."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import ApiError, AuthenticationException, Elasticsearch

from es_rag.engine.errors import EngineError
from es_rag.engine.security import Security, authn
from es_rag.engine.security.passwords import hash_password
from es_rag.engine.security.throttle import LoginThrottle, ThrottleSettings
from es_rag.engine.server import EngineServer

from .conftest import Call, Clock, basic


def old_engine_hash(password: str) -> str:
    """A hash as the engine wrote them before: PBKDF2-HMAC-SHA512 at 10,000 iterations."""
    salt = os.urandom(32)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 10_000, 32)
    return f"{{PBKDF2}}10000${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def stored_hash(data_dir: Path, username: str) -> str:
    return json.loads((data_dir / "security.json").read_text())["users"][username][
        "password_hash"]


def test_new_passwords_are_hashed_with_210000_pbkdf2_iterations(tmp_path: Path,
                                                                call: Call) -> None:
    call("PUT", "/_security/user/joe", {"password": "joe-password", "roles": []})
    assert stored_hash(tmp_path, "joe").startswith("{PBKDF2}210000$")


def test_an_old_hash_is_replaced_at_the_next_successful_login(tmp_path: Path, call: Call,
                                                              security: Security) -> None:
    call("PUT", "/_security/user/joe", {"password_hash": old_engine_hash("joe-password"),
                                        "roles": []})
    before = stored_hash(tmp_path, "joe")
    with pytest.raises(EngineError):
        security.authenticate(basic("joe", "wrong-password"))
    assert stored_hash(tmp_path, "joe") == before  # a failed login changes nothing

    security.authenticate(basic("joe", "joe-password"))
    upgraded = stored_hash(tmp_path, "joe")
    assert upgraded.startswith("{PBKDF2}210000$") and upgraded != before
    assert Security(tmp_path).authenticate(basic("joe", "joe-password")).username == "joe"


def test_repeated_requests_pay_the_password_hash_once(call: Call, security: Security,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    call("PUT", "/_security/user/joe", {"password": "joe-password", "roles": []})
    checks: list[str] = []

    def counting(password: str, stored: str) -> bool:
        checks.append(password)
        return authn_verify(password, stored)

    authn_verify = authn.verify_password
    monkeypatch.setattr(authn, "verify_password", counting)
    for _ in range(50):
        assert security.authenticate(basic("joe", "joe-password")).username == "joe"
    assert len(checks) == 1
    with pytest.raises(EngineError):  # a different password is checked, never taken from cache
        security.authenticate(basic("joe", "joe-passwordX"))
    assert len(checks) == 2


def throttled_security(tmp_path: Path, clock: Clock, per_user: int = 3,
                       per_address: int = 5) -> Security:
    throttle = LoginThrottle(ThrottleSettings(per_user, per_address, 60.0), clock=clock)
    security = Security(tmp_path, clock=clock, login_throttle=throttle)
    password = security.store.bootstrap_password
    assert password is not None
    for name in ("joe", "ann", "bob"):
        security.store.put_user({"username": name, "roles": [], "enabled": True,
                                 "password_hash": hash_password(f"{name}-password")})
    return security


def test_failed_logins_of_one_user_are_throttled_then_allowed_again(tmp_path: Path,
                                                                    clock: Clock) -> None:
    security = throttled_security(tmp_path, clock)
    security.authenticate(basic("ann", "ann-password"))  # a client that logged in before
    for _ in range(3):
        with pytest.raises(EngineError) as refused:
            security.authenticate(basic("joe", "guess"), address="10.0.0.9")
        assert refused.value.status == 401
    with pytest.raises(EngineError) as throttled:  # even the right password is not checked
        security.authenticate(basic("joe", "joe-password"), address="10.0.0.8")
    error = throttled.value
    assert error.status == 429 and error.error_type == "security_exception"
    assert error.reason == ("too many failed authentication attempts for user [joe]; retry in "
                            "60 seconds")
    assert error.headers == {"Retry-After": "60"}
    assert security.authenticate(basic("ann", "ann-password")).username == "ann"
    clock.now += 61
    assert security.authenticate(basic("joe", "joe-password")).username == "joe"


def test_failed_logins_from_one_address_are_throttled_across_users(tmp_path: Path,
                                                                   clock: Clock) -> None:
    security = throttled_security(tmp_path, clock, per_user=10, per_address=4)
    for name in ("joe", "ann", "bob", "nobody"):
        with pytest.raises(EngineError):
            security.authenticate(basic(name, "guess"), address="10.0.0.9")
    with pytest.raises(EngineError) as throttled:
        security.authenticate(basic("bob", "bob-password"), address="10.0.0.9")
    assert throttled.value.status == 429
    assert "client address [10.0.0.9]" in throttled.value.reason
    assert security.authenticate(basic("bob", "bob-password"),
                                 address="10.0.0.7").username == "bob"
    # es-rag's API and UI reach the engine from loopback for all their users: per user only
    for name in ("joe", "ann", "nobody", "someone", "else"):
        with pytest.raises(EngineError):
            security.authenticate(basic(name, "guess"), address="127.0.0.1")
    assert security.authenticate(basic("bob", "bob-password"),
                                 address="127.0.0.1").username == "bob"


def test_the_engine_answers_throttled_logins_429_over_http(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ES_RAG_ENGINE_LOGIN_MAX_FAILURES_PER_USER", "2")
    server = EngineServer(tmp_path, port=0).start()
    try:
        wrong = Elasticsearch(server.url, basic_auth=("elastic", "wrong"), max_retries=0)
        for _ in range(2):
            with pytest.raises(AuthenticationException):
                wrong.info()
        password = (tmp_path / "elastic-password").read_text().strip()
        right = Elasticsearch(server.url, basic_auth=("elastic", password), max_retries=0)
        with pytest.raises(ApiError) as throttled:
            right.info()
        assert throttled.value.meta.status == 429
        assert throttled.value.meta.headers["retry-after"] == "60"
        assert throttled.value.body["error"]["type"] == "security_exception"
        assert throttled.value.body["error"]["reason"].startswith(
            "too many failed authentication attempts for user [elastic]")
    finally:
        server.stop()


def test_a_bad_throttle_setting_stops_the_engine_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "es_rag.engine", "--data", str(tmp_path), "--port", "0"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "ES_RAG_ENGINE_LOGIN_WINDOW_SECONDS": "soon"})
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: ES_RAG_ENGINE_LOGIN_WINDOW_SECONDS must be a "
                                     "positive float, got 'soon'")
