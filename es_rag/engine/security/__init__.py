"""Security for the embedded engine: users, roles with DLS, API keys, run-as, as Elasticsearch.

The HTTP layer uses `Security` (authenticate, authorize, dls_query), `handle` for the
`/_security/…` endpoints, and `request_action` to name the action each request performs.
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
from .rest_request import SecurityRequest
from .routes import ROUTES, Route, handle
from .service import SEARCH_ACTION, SECURITY_INDICES, SYSTEM_INDEX_WARNING, Security
from .store import PASSWORD_ENV, PASSWORD_FILE, SecurityStore

__all__ = [
    "DLS_APIS", "DLS_UPDATE_REFUSED", "ITEM_ACTIONS", "PASSWORD_ENV", "PASSWORD_FILE",
    "REST_ACTIONS", "ROUTES", "RUN_AS_HEADER", "SEARCH_ACTION", "SECURITY_INDICES",
    "SYSTEM_INDEX_WARNING", "WWW_AUTHENTICATE",
    "AuthenticatedUser", "RequestAction", "Route", "Security", "SecurityRequest",
    "SecurityStore", "handle", "request_action", "restrict", "restrict_filter",
]
