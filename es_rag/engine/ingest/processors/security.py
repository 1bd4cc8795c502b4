"""`set_security_user`: the authenticated user of the request, written into the document."""

from __future__ import annotations

from typing import Any

from es_rag.engine.errors import EngineError
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument
from es_rag.engine.ingest.processors.base import Processor
from es_rag.engine.security.authn import AuthenticatedUser
from es_rag.engine.security.context import current_user

PROPERTIES = ("username", "full_name", "email", "roles", "metadata", "api_key", "realm",
              "authentication_type")


class SetSecurityUser(Processor):
    """Elasticsearch's `SetSecurityUserProcessor`: `field` gets the effective user's
    `properties` (all by default); absent or empty values are left out, an existing object in
    `field` is updated rather than replaced."""

    type = "set_security_user"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_string("field")
        self.properties = [p.lower() for p in config.read_strings("properties",
                                                                  list(PROPERTIES))]
        for name in self.properties:
            if name not in PROPERTIES:
                raise config.error("properties", f"Property value [{name}] is in valid")

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        user = current_user.get()
        if user is None:  # only an engine started without security serves requests so
            raise EngineError("Security (authentication) is not enabled on this cluster, so "
                              f"there is no active user - the [{self.type}] processor cannot "
                              "be used without security", status=500,
                              error_type="illegal_state_exception")
        existing = doc.get(self.field, True) if doc.has(self.field) else None
        out = existing if isinstance(existing, dict) else {}
        for name in self.properties:
            value = _property(user, name, out.get(name))
            if value:
                out[name] = value
        doc.set(self.field, out)
        return doc


def _property(user: AuthenticatedUser, name: str, existing: Any) -> Any:
    if name == "roles":
        return list(user.roles)
    if name == "metadata":
        return dict(user.metadata)
    if name == "authentication_type":
        return user.authentication_type.upper()
    if name in ("api_key", "realm"):
        out = dict(existing) if isinstance(existing, dict) else {}
        out.update(_api_key(user) if name == "api_key" else _realm(user))
        return out
    return getattr(user, name)


def _api_key(user: AuthenticatedUser) -> dict[str, Any]:
    key = user.authenticating.api_key
    if key is None:
        return {}
    out = {"name": key.get("name"), "id": key.get("id")}
    if key.get("metadata"):
        out["metadata"] = dict(key["metadata"])
    return out


def _realm(user: AuthenticatedUser) -> dict[str, Any]:
    key = user.authenticating.api_key
    if key is not None:  # the realm of the key's creator, as Elasticsearch reports it
        creator = key.get("creator") or {}
        return {"name": creator.get("realm"), "type": creator.get("realm_type")}
    realm = user.lookup_realm or user.authentication_realm
    return {"name": realm.name, "type": realm.type}


PROCESSORS: list[type[Processor]] = [SetSecurityUser]
