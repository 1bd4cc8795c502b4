"""Put a fine-tuned model into service, as a versioned migration with a quality gate.

An embedding model: the chunks behind the alias are copied into the next version (`chunks-vN`)
with vectors from the new model, the judgments are evaluated on both versions, and the alias
moves only when the new one is at least as good (or `force`); `es-rag rollback` points it back.
A reranker: `hybrid+rerank` is evaluated with the serving reranker and the new one. Either way
`retrieval.json` records the model in use (path, version, checksum) under `models`.

Each index version records the embedding model of its vectors in its mapping's
`_meta.es_rag.models` (null: the configured `embedding_model`): the new version at activation,
the serving one as it stands. `restore_models` puts that record back into `retrieval.json` when
`es-rag rollback` returns the alias to a version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

from es_rag.assets import alias_target, index_versions
from es_rag.connect import Capabilities
from es_rag.errors import EsRagError
from es_rag.evaluate.configs import parse_configs
from es_rag.evaluate.judgments import Judgments
from es_rag.evaluate.run import run_configs
from es_rag.finetune.manifest import ModelManifest, model_checksum, read_manifest
from es_rag.retrieve.defaults import RetrievalDefaults, read_file, write_file
from es_rag.retrieve.params import RerankSettings
from es_rag.retrieve.rerank import build_reranker

GATE_METRIC = "ndcg@10"
EMBED_BATCH = 64
COPIED_SETTINGS = ("number_of_shards", "number_of_replicas", "analysis")

Progress = Callable[[str, int, int | None], None]


class ActivationError(EsRagError, RuntimeError):
    """A model cannot be put into service; the message says why and what was left as it was."""


@dataclass
class Activation:
    """What an activation measured and did."""

    kind: str
    model: dict[str, Any]
    serving: float | None
    candidate: float | None
    applied: bool
    index_from: str | None = None
    index_to: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model, "metric": GATE_METRIC,
                "serving": self.serving, "candidate": self.candidate, "applied": self.applied,
                "index_from": self.index_from, "index_to": self.index_to, "notes": self.notes}


def model_entry(folder: Path) -> tuple[ModelManifest, dict[str, Any]]:
    """(manifest, {path, version, checksum}) of a fine-tuned model folder, its files checked
    against the checksum its manifest recorded."""
    manifest = read_manifest(folder)
    if model_checksum(folder) != manifest.checksum:
        raise ActivationError(f"{folder}: its files changed since training (checksum differs "
                              "from its manifest); train again or restore them")
    return manifest, {"path": str(Path(folder).resolve()), "version": manifest.version,
                      "checksum": manifest.checksum}


def _gate(client: Elasticsearch, caps: Capabilities, index: str, judgments: Judgments,
          spec: str, embedder: Any, defaults: RetrievalDefaults, reranker: Any = None) -> float:
    results = run_configs(client, caps, index, judgments, parse_configs(spec), embedder,
                          reranker=reranker, defaults=defaults)
    return round(next(iter(results.values())).means[GATE_METRIC], 4)


def _with_models(mappings: dict[str, Any], models: dict[str, Any]) -> dict[str, Any]:
    """`mappings` with `_meta.es_rag.models` set to `models` (the rest of `_meta` kept)."""
    meta = dict(mappings.get("_meta") or {})
    meta["es_rag"] = {**(meta.get("es_rag") or {}), "models": models}
    return {**mappings, "_meta": meta}


def record_models(client: Elasticsearch, index: str, models: dict[str, Any]) -> None:
    """Record in `index`'s mapping which models its vectors come from."""
    live = client.indices.get_mapping(index=index).body[index]["mappings"]
    client.indices.put_mapping(index=index, meta=_with_models(live, models)["_meta"])


def restore_models(client: Elasticsearch, index: str, assets: Path) -> str:
    """Put the embedding model recorded for `index` (the version an alias now serves again)
    into `retrieval.json`; returns a line saying what was done."""
    mappings = client.indices.get_mapping(index=index).body[index]["mappings"]
    models = (mappings.get("_meta") or {}).get("es_rag", {}).get("models")
    if not isinstance(models, dict):
        return (f"{index} records no embedding model (not made by `es-rag finetune "
                "activate`): models in retrieval.json left as they are")
    defaults = read_file(assets)
    entry = models.get("embedding")
    kept = {role: m for role, m in defaults.models.items() if role != "embedding"}
    write_file(assets, replace(defaults, models={**kept, **({"embedding": entry}
                                                            if entry else {})}))
    if entry:
        return (f"retrieval.json: embedding model {entry['path']} (v{entry['version']}), "
                f"as recorded for {index}")
    return (f"retrieval.json: the configured embedding_model, as recorded for {index} "
            "(models.embedding removed)")


def reembed_version(client: Elasticsearch, alias: str, embedder: Any,
                    progress: Progress | None = None,
                    models: dict[str, Any] | None = None) -> tuple[str, str]:
    """Copy the index behind `alias` into its next version with vectors from `embedder`
    (the alias is not moved), recording `models` in its mapping; returns (serving index, new
    index)."""
    current = alias_target(client, alias)
    if current is None:
        raise ActivationError(f"alias {alias} does not exist: run `es-rag apply` and ingest "
                              "first")
    new = f"{alias}-v{index_versions(client, alias)[-1][0] + 1}"
    live = client.indices.get(index=current).body[current]
    index_settings = live.get("settings", {}).get("index", {})
    mappings = live["mappings"] if models is None else _with_models(live["mappings"], models)
    client.indices.create(index=new, mappings=mappings, settings={"index": {
        k: index_settings[k] for k in COPIED_SETTINGS if k in index_settings}})
    total = int(client.count(index=current)["count"])
    try:
        failed = [item for ok, item in helpers.streaming_bulk(
            client, _reembedded(client, current, new, embedder, total, progress),
            raise_on_error=False, max_retries=3) if not ok]
        if failed:
            raise ActivationError(f"re-embedding {current} into {new}: {len(failed)} chunks "
                                  f"failed (first: {failed[0]}); {alias} still serves "
                                  f"{current}")
        for name in ("default_pipeline", "final_pipeline"):
            if name in index_settings:
                client.indices.put_settings(index=new,
                                            settings={"index": {name: index_settings[name]}})
        client.indices.refresh(index=new)
    except BaseException:
        client.options(ignore_status=404).indices.delete(index=new)
        raise
    return current, new


def _reembedded(client: Elasticsearch, source: str, target: str, embedder: Any, total: int,
                progress: Progress | None) -> Iterator[dict[str, Any]]:
    batch: list[dict[str, Any]] = []
    done = 0
    hits = helpers.scan(client, index=source, query={"query": {"match_all": {}}})
    for hit in [*hits, None]:
        if hit is not None:
            batch.append(hit)
        if batch and (hit is None or len(batch) == EMBED_BATCH):
            vectors = embedder.embed_documents([str(h["_source"].get("text", "")) for h in batch])
            for item, vector in zip(batch, vectors, strict=True):
                yield {"_index": target, "_id": item["_id"],
                       "_source": {**item["_source"], "embedding": list(vector)}}
            done += len(batch)
            batch = []
            if progress:
                progress("re-embed", done, total)


def activate_embeddings(client: Elasticsearch, caps: Capabilities, alias: str,
                        judgments: Judgments | None, folder: Path, serving_embedder: Any,
                        candidate_embedder: Any, assets: Path, *, force: bool = False,
                        progress: Progress | None = None) -> Activation:
    """Re-embed into the next version, gate on `judgments`, move the alias, record the model."""
    manifest, entry = model_entry(folder)
    if manifest.kind != "embeddings":
        raise ActivationError(f"{folder} holds a {manifest.kind} model, not an embedding model")
    defaults = read_file(assets)
    current, new = reembed_version(client, alias, candidate_embedder, progress,
                                   {"embedding": entry})
    serving = candidate = None
    if judgments is not None:
        serving = _gate(client, caps, current, judgments, "current", serving_embedder, defaults)
        candidate = _gate(client, caps, new, judgments, "current", candidate_embedder, defaults)
    activation = Activation("embeddings", entry, serving, candidate, False, current, new)
    if candidate is not None and serving is not None and candidate < serving and not force:
        client.indices.delete(index=new)
        activation.notes.append(f"refused: {GATE_METRIC} {candidate:.4f} on {new} is below "
                                f"{serving:.4f} serving; {new} deleted (--force overrides)")
        return activation
    record_models(client, current, {"embedding": defaults.models.get("embedding")})
    client.indices.update_aliases(actions=[
        {"remove": {"index": current, "alias": alias}},
        {"add": {"index": new, "alias": alias, "is_write_index": True}}])
    write_file(assets, replace(defaults, models={**defaults.models, "embedding": entry}))
    activation.applied = True
    activation.notes.append(f"{alias} now serves {new}; `es-rag rollback` points it back to "
                            f"{current} and restores its embedding model in retrieval.json")
    return activation


def served_rerank(folder: Path, manifest: ModelManifest,
                  settings: RerankSettings) -> RerankSettings:
    """`settings` serving the reranker in `folder`: at the length it was trained and its blend
    weight chosen at (within what `rerank.max_length` allows)."""
    trained = int(manifest.parameters.get("max_seq_length", settings.max_length))
    return replace(settings, model=str(Path(folder).resolve()),
                   max_length=min(512, max(16, trained)))


def activate_reranker(client: Elasticsearch, caps: Capabilities, alias: str,
                      judgments: Judgments | None, folder: Path, embedder: Any, assets: Path,
                      *, force: bool = False) -> Activation:
    """Gate the reranker on `judgments` (hybrid+rerank, serving reranker against the new one);
    record it as `rerank.model` (with `rerank.max_length` its training length) and under
    `models`."""
    manifest, entry = model_entry(folder)
    if manifest.kind != "reranker":
        raise ActivationError(f"{folder} holds a {manifest.kind} model, not a reranker")
    defaults = read_file(assets)
    rerank = served_rerank(folder, manifest, defaults.params.rerank)
    serving = candidate = None
    if judgments is not None:
        serving = _gate(client, caps, alias, judgments, "hybrid+rerank", embedder, defaults)
        candidate = _gate(client, caps, alias, judgments, "hybrid+rerank", embedder, defaults,
                          build_reranker(rerank, embedder))
    activation = Activation("reranker", entry, serving, candidate, False)
    if candidate is not None and serving is not None and candidate < serving and not force:
        activation.notes.append(f"refused: {GATE_METRIC} {candidate:.4f} with the new reranker "
                                f"is below {serving:.4f} serving (--force overrides)")
        return activation
    params = replace(defaults.params, rerank=rerank)
    write_file(assets, replace(defaults, params=params,
                               models={**defaults.models, "reranker": entry}))
    activation.applied = True
    activation.notes.append("recorded in retrieval.json: run `es-rag apply` to serve it")
    return activation
