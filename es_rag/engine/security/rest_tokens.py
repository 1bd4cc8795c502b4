"""REST handlers for `/_security/oauth2/token`: get (create or refresh) and invalidate tokens."""

from __future__ import annotations

import base64
from typing import Any

from .rest_request import SecurityRequest, body_of
from .service import Security
from .tokens import validate_grant


def get_token(security: Security, request: SecurityRequest) -> tuple[int, Any]:
    """`POST /_security/oauth2/token`: a bearer token for the caller (`client_credentials`),
    for a user by password (`password`), or a new pair for a refresh token."""
    body = body_of(request)
    grant = validate_grant(body)
    if grant == "refresh_token":
        return 200, security.tokens.refresh(str(body["refresh_token"]))
    if grant == "client_credentials":
        return 200, security.tokens.create(request.user, refreshable=False)
    credentials = base64.b64encode(f"{body['username']}:{body['password']}".encode()).decode()
    user = security.authenticate({"Authorization": f"Basic {credentials}"},
                                 uri="/_security/oauth2/token")
    return 200, security.tokens.create(user, refreshable=True)


def invalidate_token(security: Security, request: SecurityRequest) -> tuple[int, Any]:
    """`DELETE /_security/oauth2/token` by token, refresh token, user name or realm name."""
    return security.tokens.invalidate(body_of(request))
