"""Settings for every es-rag entry point: one object, from `ES_RAG_*` variables and `es-rag.toml`.

Precedence: environment variable > `es-rag.toml` (in the working directory, or the file named by
`ES_RAG_CONFIG`) > the default below. Keys in the TOML file are the field names (`url = "..."`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from es_rag.errors import EsRagError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Elasticsearch's rule for trained model ids (MlStrings.isValidId, ID_LENGTH_LIMIT)
TRAINED_MODEL_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?$")
TRAINED_MODEL_ID_MAX = 64
# The hub id of the bundled model: its trained model id is the one eland gives it.
BUNDLED_MODEL_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


class ConfigError(EsRagError, ValueError):
    """A setting has a value es-rag cannot use; the message names the key and what is accepted."""


def _setting(
    default: Any, help: str, *, choices: tuple[str, ...] = (), secret: bool = False
) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Everything configurable in es-rag. Read it with `load_settings()`."""

    url: str | None = _setting(None, "Elasticsearch URL; unset means the embedded engine")
    cloud_id: str | None = _setting(None, "Elastic Cloud id (instead of url)")
    api_key: str | None = _setting(None, "API key (encoded form)", secret=True)
    user: str | None = _setting(None, "user name for basic auth")
    password: str | None = _setting(None, "password for basic auth", secret=True)
    ca_certs: Path | None = _setting(None, "CA bundle for TLS verification")
    verify_certs: bool = _setting(True, "verify the cluster's TLS certificate")
    request_timeout: float = _setting(30.0, "seconds before a request to the cluster times out")
    data: Path = _setting(Path(".es-rag"), "embedded engine data directory")
    engine_port: int = _setting(9200, "port of the embedded engine")
    assets: Path = _setting(
        PROJECT_ROOT, "folder holding mappings/, pipelines/, templates/, roles/"
    )
    index: str = _setting("chunks", "alias of the chunk index that applications search")
    embedding_model: str = _setting(
        "all-MiniLM-L6-v2", "sentence-transformers model for embeddings"
    )
    embedding_backend: str = _setting(
        "onnx-int8", "runtime of the local embedding model: torch (sentence-transformers), or "
        "ONNX Runtime with the model exported once (fp32, or int8 dynamically quantized) into "
        "embedding_cache; vectors stay compatible across backends",
        choices=("torch", "onnx", "onnx-int8"))
    embedding_cache: Path | None = _setting(
        None, "folder of the ONNX exports of embedding models (default: beside the model, "
        "<model>/onnx, when that folder is writable, else <data>/models)")
    embedding: str = _setting(
        "local", "where chunks and queries are embedded: in es-rag, by a trained model "
        "deployed in the cluster (ingest inference processor, kNN query_vector_builder), or "
        "by the cluster's inference endpoint behind a semantic_text copy of the chunk text "
        "(semantic query)", choices=("local", "cluster", "semantic_text"))
    semantic_inference_id: str = _setting(
        "es-rag-minilm", "inference endpoint the chunk text's semantic_text field is pinned to "
        "(embedding = semantic_text; an `inference/<id>.json` asset, never the cluster's "
        "default endpoint)")
    embedding_model_id: str | None = _setting(
        None, "trained model id of the embedding model in the cluster (embedding = cluster); "
        "default: derived from embedding_model as eland names it")
    chunk_size: int = _setting(256, "chunk size in embedding-model tokens")
    chunk_overlap: int = _setting(32, "overlap between consecutive chunks, in tokens")
    ingest_source: str | None = _setting(
        None, "source name of the folders `es-rag ingest` indexes (part of every document id); "
        "default: each folder's own name")
    ingest_max_chars: int = _setting(
        2_000_000, "characters of text kept per ingested file; longer text is cut (reported)")
    ingest_roots: tuple[Path, ...] = _setting(
        (), "folders the admin UI may ingest from (TOML list, or paths joined by "
        f"{os.pathsep!r}); none means the UI ingests nothing")
    client_side_acl_filter: bool = _setting(
        False, "without cluster DLS (Basic license, security off), let searches as a user "
        "filter on acl in es-rag; the cluster does not enforce it")
    login_max_failures: int = _setting(
        5, "failed admin UI logins allowed per user name within login_window (per client "
        "address: four times as many); further attempts are refused (429) until it passes")
    login_window: float = _setting(300.0, "seconds over which failed admin UI logins count")
    llm_provider: str = _setting(
        "extractive", "answer generator", choices=("extractive", "openai", "local")
    )
    llm_base_url: str | None = _setting(None, "OpenAI-compatible endpoint (openai provider)")
    llm_model: str | None = _setting(None, "model name for the LLM provider")
    llm_api_key: str | None = _setting(None, "key for the OpenAI-compatible endpoint", secret=True)
    judge_base_url: str | None = _setting(
        None, "OpenAI-compatible endpoint of the judge model grading faithfulness and answer "
        "correctness in `es-rag eval --answers` (none: no judge)")
    judge_model: str | None = _setting(None, "model name of the judge")
    judge_api_key: str | None = _setting(None, "key for the judge's endpoint", secret=True)
    answer_log: bool = _setting(
        False, "keep a private log of every answer (passages, scores, prompt, answer, "
        "citations, verification verdicts) under <data>/answers, for the admin UI's Answers page")
    answer_log_days: float = _setting(30.0, "days an answer stays in the answer log")
    answer_log_questions: bool = _setting(
        False, "keep the question text in the answer log (otherwise redacted: a hash remains)")
    answer_cache_seconds: float = _setting(
        0.0, "seconds an answer of `es-rag serve` and the playground is reused for the same "
        "question, parameters, index version and user (ingest and apply end it sooner); "
        "0: no answer cache")
    metrics_open_on_loopback: bool = _setting(
        False, "let GET /metrics of `es-rag serve` answer requests from 127.0.0.1/::1 without "
        "credentials (for a local Prometheus agent); otherwise the cluster must accept them")

    @property
    def cluster_model_id(self) -> str:
        """The trained model id the cluster embeds with: `embedding_model_id`, else derived."""
        return self.embedding_model_id or trained_model_id(self.embedding_model)

    @property
    def uses_engine(self) -> bool:
        """True when no cluster is configured and the embedded engine serves es-rag."""
        return not (self.url or self.cloud_id)

    def public_dict(self) -> dict[str, Any]:
        """The settings as plain values, secrets masked: for `es-rag status` and logs."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"] and value:
                value = "********"
            if isinstance(value, tuple):
                value = [str(v) for v in value]
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def trained_model_id(model_name: str) -> str:
    """The trained model id eland gives a model: `/` becomes `__`, lowercased, last 64 chars.

    >>> trained_model_id("all-MiniLM-L6-v2")
    'sentence-transformers__all-minilm-l6-v2'
    """
    if model_name in ("all-MiniLM-L6-v2", BUNDLED_MODEL_HUB_ID):
        model_name = BUNDLED_MODEL_HUB_ID
    derived = re.sub(r"[\s\\/]", "__", model_name).lower()[-TRAINED_MODEL_ID_MAX:]
    return derived.removeprefix("__")


def trained_model_id_problem(model_id: str) -> str | None:
    """Why Elasticsearch would refuse `model_id` as a trained model id, or None."""
    if len(model_id) > TRAINED_MODEL_ID_MAX:
        return f"is longer than {TRAINED_MODEL_ID_MAX} characters"
    if not TRAINED_MODEL_ID_RE.match(model_id):
        return ("is not a valid trained model id (lowercase letters, digits, '-', '_' and '.', "
                "starting and ending with a letter or digit)")
    return None


def env_name(name: str) -> str:
    """The environment variable that sets field `name`."""
    return "ES_RAG_" + name.upper()


def _convert(name: str, raw: Any, f: dataclasses.Field[Any], where: str) -> Any:
    """Turn a raw value into the field's type; `where` names its origin in error messages."""
    kind = f.type.split(" | ")[0] if isinstance(f.type, str) else f.type
    if raw is None or raw == "":
        return f.default if raw == "" else None
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        lowered = str(raw).strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(
            f"{where}: {raw!r} is not a boolean (accepted: true, false, 1, 0, yes, no)"
        )
    if kind in ("int", "float"):
        try:
            value = int(raw) if kind == "int" else float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {raw!r} is not a number ({kind} expected)") from None
        lowest = 0 if name in ("chunk_overlap", "answer_cache_seconds") else 1
        if value < lowest:
            raise ConfigError(f"{where}: {raw!r} must be at least {lowest}")
        return value
    if kind == "Path":
        return Path(str(raw)).expanduser()
    if kind == "tuple[Path, ...]":
        items = raw.split(os.pathsep) if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{where}: {raw!r} is not a list of folders")
        return tuple(Path(i).expanduser() for i in items if i)
    value = str(raw)
    choices = f.metadata["choices"]
    if choices and value not in choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(choices)}")
    problem = trained_model_id_problem(value) if name == "embedding_model_id" else None
    if problem:
        raise ConfigError(f"{where}: {value!r} {problem}")
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None


def load_settings(
    env: Mapping[str, str] | None = None, config_file: Path | None = None, **overrides: Any
) -> Settings:
    """Build the settings from the environment, the TOML file and explicit overrides (CLI flags)."""
    env = os.environ if env is None else env
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    if config_file is None and env.get("ES_RAG_CONFIG"):
        config_file = Path(env["ES_RAG_CONFIG"])
        if not config_file.is_file():
            raise ConfigError(f"ES_RAG_CONFIG: {config_file} does not exist")
    if config_file is None and Path("es-rag.toml").is_file():
        config_file = Path("es-rag.toml")
    values: dict[str, Any] = {}
    if config_file is not None:
        for key, raw in _read_toml(config_file).items():
            if key not in fields:
                raise ConfigError(
                    f"{config_file}: unknown key {key!r} (known: {', '.join(sorted(fields))})"
                )
            values[key] = _convert(key, raw, fields[key], f"{config_file}: {key}")
    for name, f in fields.items():
        if env_name(name) in env:
            values[name] = _convert(name, env[env_name(name)], f, env_name(name))
    for name, raw in overrides.items():
        if raw is not None:
            values[name] = _convert(name, raw, fields[name], "--" + name.replace("_", "-"))
    settings = Settings(**values)
    if settings.url and settings.cloud_id:
        raise ConfigError("ES_RAG_URL and ES_RAG_CLOUD_ID are both set; choose one")
    if settings.api_key and settings.user:
        raise ConfigError("ES_RAG_API_KEY and ES_RAG_USER are both set; choose one way to log in")
    if bool(settings.user) != bool(settings.password):
        raise ConfigError("ES_RAG_USER and ES_RAG_PASSWORD go together; one of them is missing")
    if settings.chunk_overlap >= settings.chunk_size:
        raise ConfigError(
            f"chunk_overlap ({settings.chunk_overlap}) must be smaller than "
            f"chunk_size ({settings.chunk_size})"
        )
    if settings.embedding == "cluster" and trained_model_id_problem(settings.cluster_model_id):
        raise ConfigError(
            f"embedding = \"cluster\": the trained model id derived from embedding_model "
            f"({settings.cluster_model_id!r}) "
            f"{trained_model_id_problem(settings.cluster_model_id)}; set embedding_model_id")
    if settings.url and not settings.url.startswith(("http://", "https://")):
        raise ConfigError(f"ES_RAG_URL: {settings.url!r} is not an http:// or https:// URL")
    return settings
