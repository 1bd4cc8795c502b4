"""Retrieval configurations to evaluate, written as short specs on the command line.

```
current                                   what `es-rag search` does: retrieval.json as stored
bm25                                      BM25 (other values from retrieval.json)
knn:num_candidates=200                    kNN with more candidates
hybrid:rank_constant=20,rank_window_size=200
hybrid:boosts=title^3,text^1              (a value may itself hold commas)
hybrid+rerank
template:hybrid:rank_constant=20          the stored search template `hybrid` with params
```
Values a spec leaves out come from the stored retrieval parameters (`retrieval.json`).
A list of specs is separated by commas: `bm25,knn,hybrid:rank_constant=20,hybrid+rerank`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from es_rag.errors import EsRagError
from es_rag.retrieve import Mode, SearchParams
from es_rag.retrieve.defaults import RetrievalDefaults

TEMPLATE = "template"
CURRENT = "current"
MODES = (CURRENT, *(m.value for m in Mode))


class EvalConfigError(EsRagError, ValueError):
    """A configuration spec cannot be understood; the message quotes it and says why."""


@dataclass(frozen=True)
class EvalConfig:
    """One configuration: a search mode with parameters, or a stored template with params."""

    name: str
    mode: str
    params: dict[str, Any] = field(default_factory=dict)
    template_id: str | None = None

    @property
    def is_template(self) -> bool:
        return self.mode == TEMPLATE

    def search_params(self, depth: int,
                      defaults: RetrievalDefaults | None = None) -> SearchParams:
        """The SearchParams of a mode config over `defaults` (the stored retrieval
        parameters), fetching `depth` results (kNN k raised to match)."""
        defaults = defaults or RetrievalDefaults()
        params = dict(self.params)
        mode = defaults.params.mode if self.mode == CURRENT else Mode.parse(self.mode)
        if mode is Mode.KNN:
            params.setdefault("k", depth)
            params.setdefault("num_candidates", max(defaults.params.num_candidates,
                                                    int(params["k"])))
        window = int(params.get("rank_window_size", defaults.params.rank_window_size))
        size = min(depth, window) if mode.is_hybrid else depth
        try:
            return defaults.search_params(mode=mode.value, size=size, **params)
        except ValueError as exc:
            raise EvalConfigError(f"configuration {self.name!r}: {exc}") from None


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _params(name: str, text: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    last: str | None = None
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep:
            last = key.strip()
            if not last:
                raise EvalConfigError(f"configuration {name!r}: empty parameter name in {part!r}")
            params[last] = value.strip()
        elif last is not None:  # a comma inside a value, e.g. boosts=title^3,text^1
            params[last] += "," + part.strip()
        else:
            raise EvalConfigError(f"configuration {name!r}: expected key=value, got {part!r}")
    return {k: _value(v) for k, v in params.items()}


def parse_config(spec: str) -> EvalConfig:
    """One spec: `mode[:k=v,...]` or `template:ID[:k=v,...]`."""
    name = spec.strip()
    head, _, rest = name.partition(":")
    head = head.strip().lower()
    if head == TEMPLATE:
        template_id, _, rest = rest.partition(":")
        if not template_id.strip():
            raise EvalConfigError(f"configuration {name!r}: name the template (template:ID)")
        return EvalConfig(name, TEMPLATE, _params(name, rest) if rest else {},
                          template_id.strip())
    if head not in MODES:
        raise EvalConfigError(f"configuration {name!r}: unknown mode {head!r} "
                          f"(accepted: {', '.join(MODES)}, template:ID)")
    config = EvalConfig(name, head, _params(name, rest) if rest else {})
    config.search_params(100)  # validate the parameters now, not halfway through a run
    return config


def parse_configs(specs: str | list[str]) -> list[EvalConfig]:
    """A comma-separated list of specs (or a list of such strings); names must be unique.

    A comma starts a new spec unless the previous spec has parameters and what follows is not a
    mode or `template:`; then it continues those parameters.
    """
    pieces = specs.split(",") if isinstance(specs, str) else [
        p for s in specs for p in s.split(",")]
    groups: list[str] = []
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        head = piece.partition(":")[0].strip().lower()
        if head in MODES or head == TEMPLATE or not groups or ":" not in groups[-1]:
            groups.append(piece)
        else:
            groups[-1] += "," + piece
    configs = [parse_config(g) for g in groups]
    if not configs:
        raise EvalConfigError("no configurations given (e.g. bm25,knn,hybrid)")
    names = [c.name for c in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise EvalConfigError(f"configuration(s) given twice: {', '.join(duplicates)}")
    return configs
