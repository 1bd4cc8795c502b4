"""The engine application and its composition root: the one place services are built and wired
together, and the router given each route module's services."""

from __future__ import annotations

from pathlib import Path

from .cluster import ClusterService
from .documents import Documents
from .errors import EngineError
from .http import (
    routes_cluster,
    routes_documents,
    routes_indices,
    routes_ingest,
    routes_legacy_templates,
    routes_ml,
    routes_rank_eval,
    routes_scroll_pit,
    routes_search,
    routes_security,
    routes_templates,
)
from .http.rest import RestRequest, RestResponse, Router
from .http.routes_scroll_pit import ReaderServices
from .http.routes_templates import TemplateServices
from .http.security_gate import SecurityGate
from .index_admin import IndexAdmin
from .inference import InferenceService, SemanticIngest
from .inference import routes as routes_inference
from .inference.context import serving
from .ingest.service import IngestService
from .ml import MlService
from .node import Node
from .query import parse_query
from .scripts import ScriptStore
from .search.service import SearchService
from .security import Security
from .security.read_scope import UNRESTRICTED


class EngineApp:
    """Everything a running engine holds; the HTTP handler only calls `dispatch`."""

    def __init__(self, data_dir: Path, *, security: bool = True,
                 elastic_password: str | None = None) -> None:
        self.node = Node(data_dir)
        self.router = Router()
        self.admin = IndexAdmin(self.node)
        self.scripts = ScriptStore(data_dir / "scripts.json")
        self.ml = MlService(data_dir, self.node)
        self.ingest = IngestService(self.node, self.ml)
        self.ml.pipeline_references = self.ingest.model_references
        self.documents = Documents(self.node)
        self.documents.pipeline = self.ingest.run
        self.search = SearchService(self.node, self.documents, embed_query=self.ml.embed_query)
        self.inference = InferenceService(data_dir, self.node, self.ml)
        self.documents.semantic = semantic = SemanticIngest(self.inference)
        self.documents.semantic_batch = semantic.batched
        self.search.inference_endpoints = self.inference.endpoints.keys
        self.gate: SecurityGate | None = None
        if security:
            self.gate = SecurityGate(Security(
                data_dir, validate_query=parse_query, stored_script=self._stored_script,
                elastic_password=elastic_password), self.node, self.router, self.search.matches)
            self.documents.authorize = self.gate.authorize_write
            self.documents.authorize_shard = self.gate.authorize_shard
        self.cluster = ClusterService(self.node, self.ml, security_enabled=security)
        self._register_routes()

    def _register_routes(self) -> None:
        """Every route module on the one router, each given only the services it uses."""
        router = self.router
        templates = TemplateServices(self.scripts, self.search)
        routes_cluster.register(router, self.cluster)
        routes_indices.register(router, self.admin)
        routes_legacy_templates.register(router, self.node.templates)
        routes_documents.register(router, self.documents)
        routes_search.register(router, self.search)
        routes_ingest.register(router, self.ingest)
        routes_templates.register(router, templates)
        routes_rank_eval.register(router, templates)
        routes_ml.register(router, self.ml)
        routes_inference.register(router, self.inference)
        security = self.gate.security if self.gate is not None else None
        routes_scroll_pit.register(router, ReaderServices(self.search.scrolls, self.search.pits,
                                                          security))
        if security is not None:
            routes_security.register(router, security)

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
            return self.scripts.source(script_id)
        except EngineError:
            return None

    def close(self) -> None:
        """Flush and close every index."""
        self.node.close()
