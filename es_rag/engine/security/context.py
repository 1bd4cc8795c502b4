"""The user the current request runs as, for code below the HTTP layer (ingest processors)."""

from __future__ import annotations

import contextvars

from .authn import AuthenticatedUser

current_user: contextvars.ContextVar[AuthenticatedUser | None] = contextvars.ContextVar(
    "engine_user", default=None)
