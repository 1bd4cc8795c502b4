"""The engine application: the node, its services and the router with every route."""

from __future__ import annotations

from pathlib import Path

from .documents import Documents
from .errors import EngineError
from .http import (
    routes_cluster,
    routes_documents,
    routes_indices,
    routes_ingest,
    routes_ml,
    routes_rank_eval,
    routes_scroll_pit,
    routes_search,
    routes_security,
    routes_templates,
)
from .http.rest import RestRequest, RestResponse, Router
from .http.security_gate import SecurityGate
from .index_admin import IndexAdmin
from .ml import MlService
from .node import Node
from .query import parse_query
from .scripts import ScriptStore
from .search.service import SearchService
from .security import Security
from .security.read_scope import UNRESTRICTED


class EngineApp:
    """Everything a running engine holds; the HTTP handler only calls `router.dispatch`."""

    def __init__(self, data_dir: Path, *, security: bool = True,
                 elastic_password: str | None = None) -> None:
        self.node = Node(data_dir)
        self.documents = Documents(self.node)
        self.admin = IndexAdmin(self.node)
        self.router = Router()
        self.scripts: ScriptStore | None = None
        self.gate: SecurityGate | None = None
        if security:
            self.gate = SecurityGate(self, Security(
                data_dir, validate_query=parse_query, stored_script=self._stored_script,
                elastic_password=elastic_password))
            self.documents.authorize = self.gate.authorize_write
        self.search = SearchService(self.node, self.documents)
        self.ml = MlService(data_dir, self.node)
        self.search.embed_query = self.ml.embed_query
        for module in (routes_cluster, routes_indices, routes_documents, routes_search,
                       routes_ingest, routes_templates, routes_rank_eval):
            module.register(self.router, self)
        routes_ml.register(self.router, self.ml)
        routes_scroll_pit.register(self.router, self)
        if self.gate is not None:
            routes_security.register(self.router, self.gate.security)

    def dispatch(self, request: RestRequest) -> RestResponse:
        """Serve one request; with security on, as its authenticated user (who reads within
        the request's read scope), else with every document readable."""
        if self.gate is None:
            request.read_scope = UNRESTRICTED
            return self.router.dispatch(request)
        return self.gate.dispatch(request, self.router.dispatch)

    def _stored_script(self, script_id: str) -> str | None:
        """The source of a stored mustache script, for role queries that name one."""
        try:
            return self.scripts.source(script_id) if self.scripts else None
        except EngineError:
            return None

    def close(self) -> None:
        """Flush and close every index."""
        self.node.close()
