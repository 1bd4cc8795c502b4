"""The engine application: the node, its services and the router with every route."""

from __future__ import annotations

from pathlib import Path

from .documents import Documents
from .http import (
    routes_cluster,
    routes_documents,
    routes_indices,
    routes_ingest,
    routes_rank_eval,
    routes_search,
    routes_templates,
)
from .http.rest import Router
from .index_admin import IndexAdmin
from .node import Node
from .scripts import ScriptStore
from .search.service import SearchService


class EngineApp:
    """Everything a running engine holds; the HTTP handler only calls `router.dispatch`."""

    def __init__(self, data_dir: Path) -> None:
        self.node = Node(data_dir)
        self.documents = Documents(self.node)
        self.admin = IndexAdmin(self.node)
        self.search = SearchService(self.node, self.documents)
        self.router = Router()
        self.scripts: ScriptStore | None = None
        for module in (routes_cluster, routes_indices, routes_documents, routes_search,
                       routes_ingest, routes_templates, routes_rank_eval):
            module.register(self.router, self)

    def close(self) -> None:
        """Flush and close every index."""
        self.node.close()
