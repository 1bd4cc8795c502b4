"""The `finetune` commands: adapt the embedding model and train a reranker on your own data."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from es_rag import run_records
from es_rag.cli.progress import StageProgress
from es_rag.cli.root import Context, clear_errors, cli, json_flag, pass_context, run_embedder

F = TypeVar("F", bound=Callable[..., Any])
MAX_PSEUDO_QUERIES = 2000
GENERATED_QUESTIONS = 200


def training_options(command: F) -> F:
    """The options both `finetune` commands take: where supervision comes from, and how hard
    to train."""
    options = [
        click.option("--dataset", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="BEIR folder: supervision from qrels/train.tsv only (never test); "
                          "negatives mined from its eval-<name> index."),
        click.option("--judgments", type=click.Path(exists=True, path_type=Path),
                     help="Your judgments (a qrels file, or a BEIR folder's train split) over "
                          "the live chunk index."),
        click.option("--queries", "queries_file",
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Queries (JSONL {_id, text}) of a --judgments qrels file."),
        click.option("--unsupervised", is_flag=True,
                     help="No judgments: pseudo-queries from the corpus (titles, headings, "
                          "inverse-cloze sentences) of --dataset, else of the live index."),
        click.option("--max-queries", type=int, default=MAX_PSEUDO_QUERIES, show_default=True,
                     help="Pseudo-queries drawn with --unsupervised."),
        click.option("--generated-questions", type=int,
                     help="With --unsupervised and a chat model configured (llm_provider "
                          f"openai or local): questions the LLM writes for this many passages "
                          f"(default {GENERATED_QUESTIONS}; 0: none)."),
        click.option("--output", type=click.Path(file_okay=False, path_type=Path),
                     help="Model folder (default: <data>/models/<kind>-vN, the next version)."),
        click.option("--epochs", type=int,
                     help="Passes over the training queries (default 3 for embeddings, 1 with "
                          "--unsupervised; 4 for the reranker)."),
        click.option("--batch-size", type=int,
                     help="Rows per step (default 32 for embeddings, 8 for the reranker)."),
        click.option("--learning-rate", type=float,
                     help="AdamW learning rate (default 1e-4 for embeddings, 2e-5 with "
                          "--unsupervised, 1e-4 for the reranker)."),
        click.option("--negatives", type=int,
                     help="Negatives per training row, mined (random with --unsupervised "
                          "embeddings; default 1 for embeddings, 3 for the reranker)."),
        click.option("--max-seq-length", type=int,
                     help="Tokens per text (or query and passage pair) in training (default "
                          "128; a reranker is served at its training length)."),
        click.option("--layers", type=int,
                     help="Keep only the base model's first N transformer layers: a smaller "
                          "model, faster to train and to serve (MiniLM has 6)."),
        click.option("--max-steps", type=int, help="Stop after this many steps."),
        click.option("--max-minutes", type=float,
                     help="Training time budget: the steps that fit, at the first steps' pace."),
        click.option("--seed", type=int, help="Seed of the held-out split, sampling and "
                                             "initialisation (default 13)."),
        json_flag("Print the model's manifest as one JSON object as the last line."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


@cli.group("finetune")
def finetune() -> None:
    """Adapt relevance to your corpus: fine-tune the embedding model, train a reranker."""


@finetune.command("embeddings")
@training_options
@click.option("--no-onnx", is_flag=True, help="Skip the ONNX int8 export of the new model.")
@pass_context
@clear_errors
def finetune_embeddings(ctx: Context, no_onnx: bool, **options: Any) -> None:
    """Fine-tune the embedding model (MultipleNegativesRankingLoss with hard negatives from the
    current BM25 and kNN results; random passages as negatives with --unsupervised), keep the
    epoch best on held-out training queries, and write a versioned model folder with its
    manifest and ONNX int8 export."""
    from es_rag.finetune.embeddings import (
        EMBEDDING_PARAMS,
        UNSUPERVISED_PARAMS,
        export_int8,
        train_embeddings,
    )

    defaults = UNSUPERVISED_PARAMS if options["unsupervised"] else EMBEDDING_PARAMS
    _run(ctx, "embeddings", defaults, options, train_embeddings,
         None if no_onnx else export_int8)


@finetune.command("reranker")
@training_options
@click.option("--no-onnx", is_flag=True, help="Skip the ONNX int8 export of the new reranker.")
@pass_context
@clear_errors
def finetune_reranker(ctx: Context, no_onnx: bool, **options: Any) -> None:
    """Train a cross-encoder reranker from the packaged MiniLM weights on the same judgments
    and mined negatives (listwise: each relevant passage against its hard negatives), with its
    ONNX int8 export; the weight blending its score with the fused one is chosen on held-out
    queries' hybrid results. Name its folder in retrieval.json's rerank.model for
    hybrid+rerank."""
    from es_rag.finetune.reranker import RERANKER_PARAMS, export_reranker_int8, train_reranker

    _run(ctx, "reranker", RERANKER_PARAMS, options, train_reranker,
         None if no_onnx else export_reranker_int8, blended=True)


def _params(defaults: Any, options: dict[str, Any]) -> Any:
    given = {name: options[name] for name in ("epochs", "batch_size", "learning_rate",
                                              "negatives", "max_seq_length", "layers", "max_steps",
                                              "max_minutes", "seed")
             if options[name] is not None}
    try:
        return replace(defaults, **given)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _run(ctx: Context, kind: str, defaults: Any, options: dict[str, Any],
         train: Callable[..., Any], export: Callable[..., Any] | None, *,
         blended: bool = False) -> None:
    from es_rag.errors import EsRagError
    from es_rag.finetune.manifest import next_version
    from es_rag.finetune.mining import candidate_pools, first_stage

    dataset, judgments = options["dataset"], options["judgments"]
    if dataset is not None and judgments is not None:
        raise click.UsageError("give --dataset or --judgments, not both")
    if options["unsupervised"] and judgments is not None:
        raise click.UsageError("--unsupervised reads no judgments: drop --judgments")
    if dataset is None and judgments is None and not options["unsupervised"]:
        raise click.UsageError("say where supervision comes from: --judgments FILE, "
                               "--dataset DIR, or --unsupervised")
    if options["max_queries"] < 2:
        raise click.UsageError(f"--max-queries must be at least 2, got {options['max_queries']}")
    if options["generated_questions"] is not None:
        if not options["unsupervised"]:
            raise click.UsageError("--generated-questions goes with --unsupervised")
        if options["generated_questions"] < 0:
            raise click.UsageError("--generated-questions must be 0 or more, got "
                                   f"{options['generated_questions']}")
    params = _params(defaults, options)
    writer = _question_writer(ctx, options)
    settings = ctx.settings
    client, caps = ctx.connection()
    embedder = run_embedder(ctx)
    try:
        with StageProgress() as progress:
            index, data = _training_data(ctx, options, embedder, progress)
            if writer is not None:
                data = _with_generated_questions(ctx, options, writer, data, progress)
            pools = candidate_pools(client, caps, index, embedder, data.queries,
                                    progress=progress)
            if options["unsupervised"]:
                data = _round_trip(data, pools)
            ranked = first_stage(client, caps, index, embedder, data.queries,
                                 progress=progress) if blended else {}
            if dataset is None:
                _add_pool_passages(client, index, data, [*pools.values(), *(
                    [doc for doc, _ in docs] for docs in ranked.values())])
            if options["output"] is not None:
                version, output = 1, options["output"]
            else:
                version, output = next_version(settings.data / "models", kind)
            base = settings.embedding_model
            extra = {"first_stage": ranked} if blended else {}
            manifest = train(data, pools, base, output, version=version, params=params,
                             progress=progress, **extra)
            if export is not None:
                progress("onnx int8", 0, 1)
                manifest = export(output, manifest, data, pools)
                progress("onnx int8", 1, 1)
    except EsRagError as exc:
        raise click.ClickException(str(exc)) from None
    record = {"kind": kind, "path": str(output), "version": manifest.version,
              "checksum": manifest.checksum, "data": manifest.data,
              "metrics": manifest.metrics, "training_seconds": manifest.training_seconds}
    run_records.write_record(settings.data, "finetune", record)
    _print(kind, output, manifest, options["as_json"])


def _training_data(ctx: Context, options: dict[str, Any], embedder: Any,
                   progress: Any) -> tuple[str, Any]:
    from es_rag.finetune import data as training

    settings = ctx.settings
    client, _ = ctx.connection()
    dataset = options["dataset"]
    if dataset is None:
        if options["unsupervised"]:
            return settings.index, training.unsupervised_from_index(
                client, settings.index, max_queries=options["max_queries"])
        return settings.index, training.from_judgments(options["judgments"], client,
                                                       settings.index, options["queries_file"])
    from es_rag.evaluate.corpus import corpus_digest, ensure_corpus_index
    from es_rag.evaluate.judgments import iter_beir_corpus
    from es_rag.evaluate.run import eval_index_name
    from es_rag.evaluate.subset import Subset

    data = (training.unsupervised_from_dataset(dataset, max_queries=options["max_queries"])
            if options["unsupervised"] else training.from_dataset(dataset))
    index = eval_index_name(dataset, Subset())
    corpus = dataset / "corpus.jsonl"
    ensure_corpus_index(client, index, list(iter_beir_corpus(corpus)),
                        corpus_sha=corpus_digest(corpus), embedder=embedder,
                        mapping_path=settings.assets / "mappings" / "chunks.json",
                        chunk_size=settings.chunk_size, overlap=settings.chunk_overlap,
                        progress=progress)
    return index, data


def _question_writer(ctx: Context, options: dict[str, Any]) -> Any:
    """The chat model that writes questions for --unsupervised, or None (no chat model
    configured, or --generated-questions 0); asking for questions without one is an error."""
    from es_rag.generate import ChatModel, build_generator

    asked = options["generated_questions"]
    if not options["unsupervised"] or asked == 0:
        return None
    generator = build_generator(ctx.settings)
    if isinstance(generator, ChatModel):
        return generator
    if asked is None:
        return None
    raise click.UsageError("--generated-questions needs a chat model: set ES_RAG_LLM_PROVIDER "
                           "to openai or local")


def _with_generated_questions(ctx: Context, options: dict[str, Any], writer: Any, data: Any,
                              progress: Any) -> Any:
    from es_rag.finetune.generated_questions import generate_questions, with_generated

    count = options["generated_questions"]
    generated = generate_questions(data.passages, writer, progress=progress,
                                   count=GENERATED_QUESTIONS if count is None else count)
    if generated.refused:
        click.echo(f"generated questions: {len(generated.queries)} written, "
                   f"{len(generated.refused)} passages without a usable one", err=True)
    return with_generated(data, generated, ctx.settings.llm_model or ctx.settings.llm_provider)


def _round_trip(data: Any, pools: dict[str, list[str]]) -> Any:
    from es_rag.finetune.generated_questions import round_trip_filtered

    data, dropped = round_trip_filtered(data, pools)
    if dropped:
        click.echo(f"generated questions: {dropped} dropped (current retrieval does not find "
                   "their passage)", err=True)
    return data


def _add_pool_passages(client: Any, index: str, data: Any, pools: list[list[str]]) -> None:
    from es_rag.finetune.data import index_passages

    missing = {d for pool in pools for d in pool} - set(data.passages)
    if missing:
        data.passages.update(index_passages(client, index, missing))


def _print(kind: str, output: Path, manifest: Any, as_json: bool) -> None:
    held = manifest.metrics["held_out"]
    click.echo(f"{kind} v{manifest.version} written to {output} "
               f"({manifest.training_seconds:.0f} s, {manifest.metrics['steps']} steps, "
               f"checksum {manifest.checksum[:12]})")
    click.echo(f"data: {manifest.data['source']} — {manifest.data['queries']} queries "
               f"({manifest.data['held_out_queries']} held out), fingerprint "
               f"{manifest.data['fingerprint'][:12]}")
    for name in ("before", "after", "after_onnx_int8"):
        if name in held:
            values = "  ".join(f"{m} {v:.4f}" for m, v in held[name].items())
            click.echo(f"held-out {name:15s} {values}")
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps({"path": str(output), **asdict(manifest)},
                              separators=(",", ":")))


@finetune.command("activate")
@click.argument("model", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--judgments", type=click.Path(exists=True, path_type=Path),
              help="Gate the switch: evaluate these judgments (qrels file or BEIR folder, test "
                   "split) on the serving and the new model; refuse when the new one is worse.")
@click.option("--queries", "queries_file",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Queries (JSONL {_id, text}) of a --judgments qrels file.")
@click.option("--force", is_flag=True, help="Switch even without judgments, or when the new "
                                            "model measures worse.")
@json_flag()
@pass_context
@clear_errors
def finetune_activate(ctx: Context, model: Path, judgments: Path | None,
                      queries_file: Path | None, force: bool, as_json: bool) -> None:
    """Put a fine-tuned model into service. An embedding model re-embeds the chunks into the
    next index version (chunks-vN) and moves the alias (`es-rag rollback` moves it back); a
    reranker becomes retrieval.json's rerank.model. Both are recorded in retrieval.json
    (models: path, version, checksum)."""
    from es_rag.errors import EsRagError
    from es_rag.evaluate.judgments import read_judgments
    from es_rag.finetune import activate as activation
    from es_rag.finetune.manifest import read_manifest

    if judgments is None and not force:
        raise click.UsageError("give --judgments to compare the new model with the serving "
                               "one, or --force to switch without measuring")
    settings = ctx.settings
    client, caps = ctx.connection()
    try:
        judged = read_judgments(judgments, queries_file) if judgments is not None else None
        kind = read_manifest(model).kind
        serving = run_embedder(ctx)
        if kind == "embeddings":
            from es_rag.embedding.factory import local_embedder

            candidate = local_embedder(replace(settings, embedding_model=str(model.resolve())))
            with StageProgress() as progress:
                done = activation.activate_embeddings(
                    client, caps, settings.index, judged, model, serving, candidate,
                    settings.assets, force=force, progress=progress)
        else:
            done = activation.activate_reranker(client, caps, settings.index, judged, model,
                                                serving, settings.assets, force=force)
    except EsRagError as exc:
        raise click.ClickException(str(exc)) from None
    if done.serving is not None:
        click.echo(f"{activation.GATE_METRIC}: serving {done.serving:.4f}, "
                   f"{done.kind} v{done.model['version']} {done.candidate:.4f}")
    for note in done.notes:
        click.echo(note)
    if as_json:
        click.echo(json.dumps(done.as_dict(), separators=(",", ":")))
    if not done.applied:
        sys.exit(1)
