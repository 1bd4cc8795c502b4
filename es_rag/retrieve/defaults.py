"""Retrieval parameters as code: `retrieval.json` in the assets, stored in the cluster by `apply`.

One file holds what every search path starts from: mode, field boosts, kNN `k` and
`num_candidates`, fusion (`rrf` with its rank constant, or `linear` with its normalizer; the
window and the legs' weights) and the rerank stage.
`es-rag apply` stores it as the script `es-rag-retrieval` (its source is the file's JSON) and
renders its values into the defaults of the stored search templates. The CLI, the library, the
HTTP API, the admin UI, `eval` and `tune` read the stored copy (`read_stored`); a request may
override any value, and `explain["parameters"]` says where each value came from.

```json
{"mode": "hybrid",
 "boosts": {"text": 1.0, "title": 1.0, "headings": 1.0},
 "knn": {"k": 10, "num_candidates": 100},
 "fusion": {"kind": "rrf", "rank_constant": 60, "rank_window_size": 100},
 "rerank": {"model": null, "top_n": 50, "batch_size": 16, "time_budget_s": 10.0}}
```
`rerank.inference_id` names a `rerank` inference endpoint (an `inference/<id>.json` asset):
`hybrid+rerank` then reranks in the cluster with the `text_similarity_reranker` retriever
where the license and the fusion path allow, and in es-rag otherwise.
Fusion may weigh the legs, `"weights": {"bm25": 1.0, "knn": 2.0}`, and `"kind": "linear"` takes
a `"normalizer"` (`minmax`, `l2_norm` or `none`), as Elasticsearch's `linear` retriever does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from es_rag.errors import EsRagError
from es_rag.retrieve.params import DEFAULT_BOOSTS, Fusion, SearchParams, rerank_values

FILE_NAME = "retrieval.json"
STORED_ID = "es-rag-retrieval"
FUSION_KINDS = ("rrf", "linear")
SECTIONS = {"mode": None, "boosts": None, "knn": ("k", "num_candidates"),
            "fusion": ("kind", "rank_constant", "rank_window_size", "weights", "normalizer"),
            "rerank": ("model", "top_n", "batch_size", "time_budget_s", "inference_id",
                       "backend", "max_length"),
            "models": None}
MODEL_ROLES = ("embedding", "reranker")
MODEL_KEYS = ("path", "version", "checksum")
"""`models`: the fine-tuned models in use (`es-rag finetune activate`), each as path, version
and checksum; absent means the configured `embedding_model` and `rerank.model`."""
TUNABLE = ("mode", "boosts", "k", "num_candidates", "rank_constant", "rank_window_size",
           "fusion", "weights", "normalizer", "rerank")
"""The SearchParams fields the file sets; `size`, filters and highlight stay per request."""


class RetrievalFileError(EsRagError, ValueError):
    """The retrieval parameters cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class RetrievalDefaults:
    """The retrieval parameters and where they were read (`cluster`, `file` or `built-in`)."""

    params: SearchParams = field(default_factory=SearchParams)
    origin: str = "built-in"
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_file(self) -> dict[str, Any]:
        """The parameters as `retrieval.json` holds them."""
        p = self.params
        rerank = p.rerank
        return {"mode": p.mode.value, "boosts": dict(p.boosts),
                "knn": {"k": p.k, "num_candidates": p.num_candidates},
                "fusion": self._fusion(),
                "rerank": rerank_values(rerank),
                **({"models": self.models} if self.models else {})}

    def _fusion(self) -> dict[str, Any]:
        """The fusion section: weights when they differ, the normalizer for `linear`."""
        p = self.params
        section: dict[str, Any] = {"kind": p.fusion.value, "rank_constant": p.rank_constant,
                                   "rank_window_size": p.rank_window_size}
        if p.weighted or p.fusion is Fusion.LINEAR:
            section["weights"] = dict(p.weights)
        if p.fusion is Fusion.LINEAR:
            section["normalizer"] = p.normalizer
        return section

    def to_json(self) -> str:
        """The file's text: sorted keys, two-space indent (what `apply` stores)."""
        return json.dumps(self.as_file(), indent=2, sort_keys=True) + "\n"

    def values(self) -> dict[str, Any]:
        """The tunable values, flat: `{"mode", "boosts", "k", ..., "rerank": {...}}`."""
        file = self.as_file()
        return {"mode": file["mode"], "boosts": file["boosts"], **file["knn"],
                "rank_constant": self.params.rank_constant,
                "rank_window_size": self.params.rank_window_size,
                "fusion": self.params.fusion.value, "weights": dict(self.params.weights),
                "normalizer": self.params.normalizer, "rerank": file["rerank"]}

    def search_params(self, **overrides: Any) -> SearchParams:
        """SearchParams from these defaults with the request's options on top (None: default).

        Options use `SearchParams.from_cli` names (strings are parsed). The result records
        where its values came from, which `search` reports in `explain["parameters"]`.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        rerank = {k.removeprefix("rerank_"): given.pop(k)
                  for k in [k for k in given if k.startswith("rerank_")]}
        base = self.values()
        base["rerank"] = {**base["rerank"], **dict(given.pop("rerank", None) or {}), **rerank}
        if base["rerank"].get("model") is None:
            base["rerank"].pop("model")
        chosen = {**base, **given}
        if chosen["mode"] == "knn" and "k" in given and "num_candidates" not in given:
            chosen["num_candidates"] = max(int(chosen["k"]), self.params.num_candidates)
        params = SearchParams.from_cli(**chosen)
        overridden = sorted(k for k in given if k in TUNABLE) + sorted(
            f"rerank.{k}" for k in rerank)
        return replace(params, provenance={"source": self.origin, "overrides": overridden})


def parse_defaults(data: Any, where: str, origin: str) -> RetrievalDefaults:
    """Validate a parsed `retrieval.json`; errors name `where` and the bad key or value."""
    if not isinstance(data, Mapping):
        raise RetrievalFileError(f"{where}: expected a JSON object")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise RetrievalFileError(f"{where}: unknown key(s) {', '.join(unknown)} "
                                 f"(known: {', '.join(SECTIONS)})")
    options: dict[str, Any] = {}
    for key in ("mode", "boosts"):
        if key in data:
            options[key] = data[key]
    for section, keys in SECTIONS.items():
        if keys is None or section not in data:
            continue
        value = data[section]
        if not isinstance(value, Mapping):
            raise RetrievalFileError(f"{where}: {section} must be an object")
        extra = sorted(set(value) - set(keys))
        if extra:
            raise RetrievalFileError(f"{where}: unknown key(s) {section}.{', '.join(extra)} "
                                     f"(known: {', '.join(keys)})")
        if section == "rerank":
            options["rerank"] = {k: v for k, v in value.items() if v is not None}
        else:
            options.update({k: v for k, v in value.items() if k != "kind"})
    models = _models(data.get("models") or {}, where)
    fusion = (data.get("fusion") or {}).get("kind", "rrf")
    if fusion not in FUSION_KINDS:
        raise RetrievalFileError(f"{where}: fusion.kind {fusion!r} is not supported "
                                 f"(supported: {', '.join(FUSION_KINDS)})")
    if "normalizer" in (data.get("fusion") or {}) and fusion != "linear":
        raise RetrievalFileError(f"{where}: fusion.normalizer applies to kind linear only")
    try:
        params = SearchParams.from_cli(fusion=fusion, **options)
    except (TypeError, ValueError) as exc:
        raise RetrievalFileError(f"{where}: {exc}") from None
    return RetrievalDefaults(params, origin, models)


def _models(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise RetrievalFileError(f"{where}: models must be an object")
    unknown = sorted(set(value) - set(MODEL_ROLES))
    if unknown:
        raise RetrievalFileError(f"{where}: unknown key(s) models.{', '.join(unknown)} "
                                 f"(known: {', '.join(MODEL_ROLES)})")
    models: dict[str, dict[str, Any]] = {}
    for role, model in value.items():
        if model is None:
            continue
        if not isinstance(model, Mapping) or set(model) != set(MODEL_KEYS):
            raise RetrievalFileError(f"{where}: models.{role} must be an object with "
                                     f"{', '.join(MODEL_KEYS)}")
        models[role] = {k: model[k] for k in MODEL_KEYS}
    return models


def read_file(root: Path) -> RetrievalDefaults:
    """`retrieval.json` of an assets folder; built-in defaults when the folder has none."""
    path = Path(root) / FILE_NAME
    if not path.is_file():
        return RetrievalDefaults()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RetrievalFileError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: "
                                 f"{exc.msg}") from None
    return parse_defaults(data, str(path), "file")


def write_file(root: Path, defaults: RetrievalDefaults) -> str:
    """Write `retrieval.json` (atomically); returns the text written."""
    path = Path(root) / FILE_NAME
    text = defaults.to_json()
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return text


def read_stored(client: Elasticsearch, fallback: Path | None = None) -> RetrievalDefaults:
    """The parameters `apply` stored in the cluster.

    When none are stored yet (or the caller may not read stored scripts), the assets folder's
    file `fallback`, else the built-in defaults; `origin` says which was used.
    """
    try:
        found = client.get_script(id=STORED_ID).body
    except NotFoundError:
        found = None
    except ApiError as exc:
        if exc.meta.status not in (401, 403):
            raise
        found = None
    source = ((found or {}).get("script") or {}).get("source") if found else None
    if source is None:
        return read_file(fallback) if fallback is not None else RetrievalDefaults()
    try:
        data = json.loads(source) if isinstance(source, str) else source
    except json.JSONDecodeError as exc:
        raise RetrievalFileError(f"stored script {STORED_ID}: invalid JSON: {exc.msg}") \
            from None
    return parse_defaults(data, f"stored script {STORED_ID}", "cluster")


def template_values(defaults: RetrievalDefaults) -> dict[str, str]:
    """The search templates' defaults meaning the same search as these parameters.

    The hybrid template's kNN leg fetches the window (`k` = rank_window_size) and considers
    at least as many candidates, as `search` does; `knn.mustache` takes `k` itself. Callers
    pick the names each template has (`hybrid_template_values` for the hybrid template).
    """
    p = defaults.params
    values = {"rank_constant": str(p.rank_constant),
              "rank_window_size": str(p.rank_window_size),
              "k": str(p.k), "num_candidates": str(p.num_candidates)}
    values.update({f"{name}_boost": str(float(p.boosts[name]))
                   for name in DEFAULT_BOOSTS if name in p.boosts})
    return values


def hybrid_template_values(defaults: RetrievalDefaults) -> dict[str, str]:
    """`template_values` with the kNN leg sized as hybrid search sizes it."""
    p = defaults.params
    return {**template_values(defaults), "k": str(p.rank_window_size),
            "num_candidates": str(max(p.num_candidates, p.rank_window_size))}

