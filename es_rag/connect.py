"""Client creation and capability detection: what the cluster at the other end can do.

es-rag talks to Elasticsearch only through the official client. This module builds that client
from the settings (starting the embedded engine when no cluster is configured), negotiates the
REST compatibility header with the server's major version, and learns once what the cluster
supports so the rest of es-rag can pick a path from capabilities, not version numbers.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any

import elastic_transport
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
    UnsupportedProductError,
)

from es_rag.config import Settings
from es_rag.errors import EsRagError

RRF_LICENSES = ("enterprise", "trial")
ML_LICENSES = ("platinum", "enterprise", "trial")
DLS_LICENSES = ("platinum", "enterprise", "trial")
_COMPAT_RE = re.compile(r"compatible-with=\d+")


class ConnectError(EsRagError, RuntimeError):
    """The cluster cannot be used: unreachable, refused our credentials, or is not Elasticsearch.

    `status` is the HTTP status the cluster answered with, when it answered (401: credentials).
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CompatTransport(elastic_transport.Transport):
    """Transport that sends the REST compatibility header of the server's major version.

    The 9.x client always asks for `compatible-with=9`, which an 8.x server refuses with
    `media_type_header_exception`. Until the server's version is known, requests carry plain
    `application/json`; afterwards the header names the server's own major.
    """

    compat_major: int | None = None

    def perform_request(
        self, method: str, target: str, *, headers: Any = None, **kwargs: Any
    ) -> elastic_transport.TransportApiResponse:
        if headers:
            headers = elastic_transport.HttpHeaders(headers)
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and "compatible-with=" in value:
                    headers[name] = (
                        _COMPAT_RE.sub(f"compatible-with={self.compat_major}", value)
                        if self.compat_major
                        else value.replace("vnd.elasticsearch+", "").split(";")[0]
                    )
        return super().perform_request(method, target, headers=headers, **kwargs)


@dataclass(frozen=True)
class Capabilities:
    """What the cluster can do, learned once at connection time."""

    url: str
    engine: str  # "embedded" or "elasticsearch"
    version: str
    major: int
    minor: int
    distribution: str
    license_type: str
    license_status: str
    security_enabled: bool
    retriever: bool
    rank_rrf: bool
    rrf_licensed: bool
    ml_inference: bool
    dls: bool = False  # document-level security enforced by the cluster
    linear_retriever: bool = False  # the `linear` retriever (8.18/9.0+), licensed
    weighted_rrf: bool = False  # per-retriever `weight` in the `rrf` retriever (9.2+), licensed

    @property
    def hybrid_path(self) -> str:
        """How plain RRF hybrid search runs: `retriever`, `rank_rrf` or `client_rrf`."""
        if self.rrf_licensed and self.retriever:
            return "retriever"
        if self.rrf_licensed and self.rank_rrf:
            return "rank_rrf"
        return "client_rrf"

    def fusion_path(self, fusion: str, weighted: bool = False) -> str:
        """How hybrid search with this fusion runs on this cluster.

        `rrf`: the `retriever` (weighted only from 9.2), the older `rank_rrf` (unweighted), or
        `client_rrf` over one `_msearch`; `linear`: the `linear_retriever` (8.18/9.0+) or
        `client_linear`. Without the license (Basic) every fusion runs client-side.
        """
        if fusion == "linear":
            return "linear_retriever" if self.linear_retriever else "client_linear"
        if weighted:
            return "retriever" if self.weighted_rrf else "client_rrf"
        return self.hybrid_path

    @property
    def license_lacks(self) -> list[str]:
        """Features es-rag would use that this cluster's license does not give (Basic lacks
        them all); es-rag falls back to client-side fusion and reranking and local embedding."""
        lacks = []
        if not self.rrf_licensed:
            lacks += ["rrf retriever", "linear retriever", "text_similarity_reranker",
                      "semantic_text inference"]
        if not self.ml_inference:
            lacks.append("ml inference")
        if self.security_enabled and not self.dls:
            lacks.append("document level security")
        return lacks

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output, with the hybrid paths and what the license lacks."""
        return {**asdict(self), "hybrid_path": self.hybrid_path,
                "linear_path": self.fusion_path("linear"),
                "license_lacks": self.license_lacks}


def client_kwargs(settings: Settings, url: str | None) -> dict[str, Any]:
    """Keyword arguments for `Elasticsearch(...)` from the settings (auth, TLS, timeouts)."""
    kwargs: dict[str, Any] = {
        "request_timeout": settings.request_timeout,
        "transport_class": CompatTransport,
        "verify_certs": settings.verify_certs,
    }
    if settings.cloud_id:
        kwargs["cloud_id"] = settings.cloud_id
    else:
        kwargs["hosts"] = [url]
    if settings.ca_certs:
        kwargs["ca_certs"] = str(settings.ca_certs)
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif settings.user:
        kwargs["basic_auth"] = (settings.user, settings.password)
    return kwargs


def engine_credentials(settings: Settings) -> tuple[str, str] | None:
    """The embedded engine's `elastic` superuser login, as the engine stored it on first start."""
    from es_rag.engine.security import PASSWORD_ENV, PASSWORD_FILE

    password = os.environ.get(PASSWORD_ENV)
    path = settings.data / PASSWORD_FILE
    if not password and path.is_file():
        password = path.read_text().strip()
    return ("elastic", password) if password else None


def endpoint_url(settings: Settings) -> str:
    """The URL es-rag talks to: the configured cluster, or the embedded engine (started)."""
    if not settings.uses_engine:
        return settings.url or f"cloud:{settings.cloud_id}"
    from es_rag.engine.daemon import start_background

    try:
        return start_background(settings.data, settings.engine_port)
    except RuntimeError as exc:
        raise ConnectError(f"the embedded engine did not start: {exc}") from None


def connect(settings: Settings) -> tuple[Elasticsearch, Capabilities]:
    """Build the client, check the server really is Elasticsearch and learn its capabilities.

    Raises ConnectError with a one-line reason when the cluster cannot be used.
    """
    url = endpoint_url(settings)
    kwargs = client_kwargs(settings, None if settings.cloud_id else url)
    if settings.uses_engine and not (settings.api_key or settings.user):
        credentials = engine_credentials(settings)
        if credentials:
            kwargs["basic_auth"] = credentials
    client = Elasticsearch(**kwargs)
    try:
        info = client.info()
    except elastic_transport.ConnectionError as exc:
        raise ConnectError(f"cannot reach Elasticsearch at {url}: {_reason(exc)}") from None
    except elastic_transport.ConnectionTimeout:
        raise ConnectError(
            f"Elasticsearch at {url} did not answer within {settings.request_timeout:g} s"
        ) from None
    except AuthenticationException:
        who = (
            f"user {settings.user!r}"
            if settings.user
            else ("the API key" if settings.api_key else "no credentials")
        )
        raise ConnectError(
            f"Elasticsearch at {url} refused {who} (401): check ES_RAG_USER/"
            "ES_RAG_PASSWORD or ES_RAG_API_KEY",
            status=401,
        ) from None
    except UnsupportedProductError:
        raise ConnectError(
            f"{url} answered, but it is not Elasticsearch (no X-Elastic-Product header)"
        ) from None
    except ApiError as exc:
        raise ConnectError(
            f"Elasticsearch at {url} answered {exc.meta.status}: {error_reason(exc)}",
            status=exc.meta.status,
        ) from None
    caps = detect_capabilities(client, url, info, embedded=settings.uses_engine)
    return client, caps


def detect_capabilities(
    client: Elasticsearch, url: str, info: dict[str, Any], *, embedded: bool
) -> Capabilities:
    """Ask the cluster for its license and features; `info` is the root endpoint's body.

    Also switches the client's compatibility header to the server's major version.
    """
    version = str(info["version"]["number"])
    major, minor = (int(part) for part in re.findall(r"\d+", version)[:2])
    client.transport.compat_major = min(major, 9)  # type: ignore[attr-defined]
    try:
        lic = client.license.get()["license"]
        license_type, license_status = str(lic["type"]), str(lic["status"])
    except (ApiError, KeyError):
        license_type, license_status = "none", "unknown"
    try:
        features = client.xpack.info(categories="features")["features"]
        security = bool(features.get("security", {}).get("enabled"))
        ml = bool(features.get("ml", {}).get("enabled"))
    except (AuthorizationException, ApiError, KeyError):
        security, ml = False, False
    active = license_status == "active"
    return Capabilities(
        url=url,
        engine="embedded" if embedded else "elasticsearch",
        version=version,
        major=major,
        minor=minor,
        distribution=str(info["version"].get("build_flavor", "default")),
        license_type=license_type,
        license_status=license_status,
        security_enabled=security,
        retriever=(major, minor) >= (8, 14),
        rank_rrf=(8, 8) <= (major, minor) < (9, 0),
        rrf_licensed=active and license_type in RRF_LICENSES,
        ml_inference=ml and active and license_type in ML_LICENSES,
        dls=security and active and license_type in DLS_LICENSES,
        linear_retriever=(major, minor) >= (8, 18) and active and license_type in RRF_LICENSES,
        weighted_rrf=(major, minor) >= (9, 2) and active and license_type in RRF_LICENSES,
    )


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "message", "") or exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def error_reason(exc: ApiError) -> str:
    """`type: reason` of an Elasticsearch error response, for one-line messages."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(exc.message)
