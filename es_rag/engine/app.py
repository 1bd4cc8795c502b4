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
    routes_rank_eval,
    routes_scroll_pit,
    routes_search,
    routes_templates,
)
from .http.rest import RestRequest, RestResponse, Router
from .http.security_gate import SecurityGate
from .index_admin import IndexAdmin
from .inference import InferenceService, SemanticIngest
from .inference import routes as routes_inference
from .inference.context import serving
from .ml import MlService
from .ml import routes as routes_ml
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
        self.inference = InferenceService(data_dir, self.node, self.ml)
        self.documents.semantic = semantic = SemanticIngest(self.inference)
        self.documents.semantic_batch = semantic.batched
        self.search.inference_endpoints = self.inference.endpoints.keys
        routes_inference.register(self.router, self.inference)
        for module in (routes_cluster, routes_indices, routes_documents, routes_search,
                       routes_ingest, routes_templates, routes_rank_eval, routes_ml,
                       routes_scroll_pit):
            module.register(self.router, self)

    def dispatch(self, request: RestRequest) -> RestResponse:
        """Serve one request; with security on, as its authenticated user (who reads within
        the request's read scope), else with every document readable."""
        with serving(self.inference):
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
