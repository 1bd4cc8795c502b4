"""Security for the embedded engine: users, roles with DLS, API keys, run-as, as Elasticsearch.

The HTTP layer uses `Security` (authenticate, authorize, dls_query), the `rest_*` handlers for
the `/_security/…` endpoints (routed by `http/routes_security.py`), and `request_action` to name
the action each request performs.
"""

from .actions import (
    DLS_APIS,
    DLS_UPDATE_REFUSED,
    ITEM_ACTIONS,
    REST_ACTIONS,
    RequestAction,
    request_action,
)
from .authn import RUN_AS_HEADER, WWW_AUTHENTICATE, AuthenticatedUser
from .dls import restrict, restrict_filter
from .service import SEARCH_ACTION, SECURITY_INDICES, SYSTEM_INDEX_WARNING, Security
from .store import PASSWORD_ENV, PASSWORD_FILE, SecurityStore

__all__ = [
    "DLS_APIS", "DLS_UPDATE_REFUSED", "ITEM_ACTIONS", "PASSWORD_ENV", "PASSWORD_FILE",
    "REST_ACTIONS", "RUN_AS_HEADER", "SEARCH_ACTION", "SECURITY_INDICES",
    "SYSTEM_INDEX_WARNING", "WWW_AUTHENTICATE",
    "AuthenticatedUser", "RequestAction", "Security", "SecurityStore", "request_action",
    "restrict", "restrict_filter",
]
