"""REST handlers for `/_security/oauth2/token`: get (create or refresh) and invalidate tokens."""

from __future__ import annotations

import base64

from ..http.rest import RestRequest, RestResponse
from .rest_request import body_of, user_of
from .service import Security
from .tokens import validate_grant


def get_token(security: Security, req: RestRequest) -> RestResponse:
    """`POST /_security/oauth2/token`: a bearer token for the caller (`client_credentials`),
    for a user by password (`password`), or a new pair for a refresh token."""
    body = body_of(req)
    grant = validate_grant(body)
    if grant == "refresh_token":
        return RestResponse(security.tokens.refresh(str(body["refresh_token"])))
    if grant == "client_credentials":
        return RestResponse(security.tokens.create(user_of(req), refreshable=False))
    credentials = base64.b64encode(f"{body['username']}:{body['password']}".encode()).decode()
    user = security.authenticate({"Authorization": f"Basic {credentials}"},
                                 uri="/_security/oauth2/token")
    return RestResponse(security.tokens.create(user, refreshable=True))


def invalidate_token(security: Security, req: RestRequest) -> RestResponse:
    """`DELETE /_security/oauth2/token` by token, refresh token, user name or realm name."""
    status, body = security.tokens.invalidate(body_of(req))
    return RestResponse(body, status)
