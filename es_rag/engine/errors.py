"""Elasticsearch-shaped errors raised anywhere in the engine and rendered by the HTTP layer."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """An error the engine answers with an Elasticsearch error body and HTTP status."""

    status = 500
    error_type = "exception"

    def __init__(self, reason: str, *, status: int | None = None, error_type: str | None = None,
                 **extra: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status
        if error_type is not None:
            self.error_type = error_type
        self.extra = extra

    def cause(self) -> dict[str, Any]:
        """The `{"type", "reason", ...}` object as Elasticsearch puts it in `root_cause`."""
        return {"type": self.error_type, "reason": self.reason, **self.extra}

    def body(self) -> dict[str, Any]:
        """The full error response body."""
        cause = self.cause()
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}


class BadRequest(EngineError):
    status = 400
    error_type = "illegal_argument_exception"


class ParsingError(EngineError):
    status = 400
    error_type = "parsing_exception"


class XContentParseError(EngineError):
    status = 400
    error_type = "x_content_parse_exception"


class MapperParsingError(EngineError):
    status = 400
    error_type = "mapper_parsing_exception"


class DocumentParsingError(EngineError):
    status = 400
    error_type = "document_parsing_exception"


class ActionRequestValidation(EngineError):
    status = 400
    error_type = "action_request_validation_exception"


class IndexNotFound(EngineError):
    status = 404
    error_type = "index_not_found_exception"

    def __init__(self, index: str) -> None:
        super().__init__(f"no such index [{index}]", index=index, **{
            "resource.type": "index_or_alias", "resource.id": index, "index_uuid": "_na_"})


class ResourceNotFound(EngineError):
    status = 404
    error_type = "resource_not_found_exception"


class ResourceAlreadyExists(EngineError):
    status = 400
    error_type = "resource_already_exists_exception"


class VersionConflict(EngineError):
    status = 409
    error_type = "version_conflict_engine_exception"


class SecurityError(EngineError):
    status = 403
    error_type = "security_exception"


class AuthenticationError(EngineError):
    status = 401
    error_type = "security_exception"


class ContentTooLarge(EngineError):
    status = 413
    error_type = "content_too_long_exception"
