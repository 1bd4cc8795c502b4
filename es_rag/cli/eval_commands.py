"""The `eval` and `tune` commands: measure retrieval and answers, search parameters."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from es_rag import run_records
from es_rag.cli.progress import StageProgress
from es_rag.cli.root import Context, clear_errors, cli, json_flag, pass_context, run_embedder
from es_rag.cli.search_commands import parameters_line
from es_rag.cli.source_commands import source_embedder, source_target


@cli.command("eval")
@click.option("--dataset", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv), indexed into its "
                   "own eval-<name> index.")
@click.option("--judgments", type=click.Path(exists=True, path_type=Path),
              help="Evaluate the live chunk index: a qrels file (TREC, or BEIR .tsv; e.g. "
                   "judgments/playground.qrels) or a BEIR folder (its corpus is not read).")
@click.option("--answers", "golden", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Golden questions (JSON lines): measure the answers of the indexed chunks.")
@click.option("--queries", "queries_file", type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path),
              help="Queries (JSONL {_id, text}) of a --judgments qrels file (default: "
                   "<name>-queries.jsonl or queries.jsonl beside it).")
@click.option("--configs", help="Retrieval configurations, e.g. 'current,bm25,"
              "hybrid:rank_constant=20,template:knn' (default: bm25,knn,hybrid with --dataset, "
              "current — what `es-rag search` does — with --judgments).")
@click.option("--split", default="test", show_default=True, help="Which qrels split to use.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write an HTML report (table, chart, worst queries).")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fail when a metric drops below this baseline by more than --max-drop.")
@click.option("--max-drop", default=0.01, show_default=True, help="Allowed drop per metric.")
@click.option("--ci-subset", is_flag=True, help="Use the small, fixed subset CI measures.")
@click.option("--source", metavar="NAME", help="With --judgments: evaluate the existing index "
              "of sources/NAME.json (judgments name its own document ids).")
@json_flag("Print one JSON object as the last line.")
@pass_context
@clear_errors
def evaluate(ctx: Context, dataset: Path | None, judgments: Path | None, golden: Path | None,
             queries_file: Path | None, configs: str | None, split: str,
             report_path: Path | None, baseline: Path | None, max_drop: float, ci_subset: bool,
             source: str | None, as_json: bool) -> None:
    """Measure retrieval quality on judgments (nDCG@10, recall, MRR, MAP) and gate regressions;
    with --answers, measure answers on golden questions."""
    from es_rag import evaluate as ev
    from es_rag.retrieve.defaults import RetrievalFileError, read_stored

    if sum(given is not None for given in (dataset, judgments, golden)) != 1:
        raise click.UsageError("give one of --dataset (a BEIR folder, indexed on its own), "
                               "--judgments (evaluated on the live index) or --answers "
                               "(golden questions, answered from the live index)")
    if source and judgments is None:
        raise click.UsageError("--source goes with --judgments (a source is evaluated live, "
                               "on judgments of its own document ids)")
    if golden is not None:
        _evaluate_answers(ctx, golden, baseline, max_drop, as_json)
        return
    settings = ctx.settings
    try:
        parsed = ev.parse_configs(configs or ("current" if judgments else "bm25,knn,hybrid"))
    except ev.EvalConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--configs") from None
    client, caps = ctx.connection()
    try:
        if judgments is not None:
            judged = ev.read_judgments(judgments, queries_file, split)
            index, layout = source_target(ctx, source)
            embedder = (source_embedder(ctx, layout, "knn") if layout.has_vectors
                        else run_embedder(ctx))
            with StageProgress() as progress:
                report = ev.evaluate_live(
                    client, caps, index, judged, parsed, embedder=embedder,
                    defaults=read_stored(client, fallback=settings.assets), progress=progress,
                    layout=layout)
        else:
            with StageProgress() as progress:
                report = ev.run_evaluation(
                    client, caps, dataset, parsed, embedder=run_embedder(ctx), split=split,
                    subset=ev.CI_SUBSET if ci_subset else None,
                    chunk_size=ev.CI_CHUNK_SIZE if ci_subset else settings.chunk_size,
                    overlap=settings.chunk_overlap,
                    mapping_path=settings.assets / "mappings" / "chunks.json",
                    progress=progress)
        run_records.write_record(settings.data, "eval", json.loads(report.to_json()))
        if report_path:
            ev.write_html_report(report, report_path)
        regressions = ev.check_baseline(report, baseline, max_drop) if baseline else []
    except (ev.JudgmentsError, ev.CorpusIndexError, ev.BaselineError,
            RetrievalFileError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(report.to_json())
    else:
        ev.print_report(report)
        click.echo(parameters_line(report.parameters))
        if report.skipped:
            click.echo(f"skipped {len(report.skipped)} empty or unparsable document(s), "
                       f"first: {report.skipped[0]}")
        if report_path:
            click.echo(f"report written to {report_path}")
    for regression in regressions:
        click.secho(f"regression: {regression}", fg="red", err=True)
    if regressions:
        sys.exit(1)


def _evaluate_answers(ctx: Context, golden: Path, baseline: Path | None, max_drop: float,
                      as_json: bool) -> None:
    """`eval --answers`: ask the golden questions as `es-rag ask` would, score, gate."""
    from es_rag.evaluate import BaselineError
    from es_rag.evaluate import answers as ev_answers
    from es_rag.evaluate.answer_judge import build_judge
    from es_rag.generate import build_generator

    try:
        questions = ev_answers.read_golden(golden)
    except ev_answers.GoldenError as exc:
        raise click.ClickException(str(exc)) from None
    judge = build_judge(ctx.settings)
    client, caps = ctx.connection()
    embedder = run_embedder(ctx)
    try:
        with StageProgress() as progress:
            report = ev_answers.run_answer_evaluation(
                client, caps, ctx.settings.index, questions, embedder=embedder,
                generator=build_generator(ctx.settings, embedder=embedder),
                client_side_acl_filter=ctx.settings.client_side_acl_filter, name=golden.name,
                judge=judge, progress=progress)
        run_records.write_record(ctx.settings.data, "answers", json.loads(report.to_json()))
        regressions = (ev_answers.check_answer_baseline(report, baseline, max_drop)
                       if baseline else [])
    except BaselineError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(report.to_json())
    else:
        ev_answers.print_answer_report(report)
    for regression in regressions:
        click.secho(f"regression: {regression}", fg="red", err=True)
    if regressions:
        sys.exit(1)


@cli.command()
@click.option("--dataset", required=True, type=click.Path(exists=True, file_okay=False,
                                                          path_type=Path),
              help="BEIR folder with train and test qrels (qrels/train.tsv, qrels/test.tsv).")
@click.option("--budget", default=30, show_default=True, help="Train evaluations at most.")
@click.option("--grid", "grid_options", multiple=True,
              help="Grid axis, e.g. 'rank_constant=10,20,60' or 'title_boost=1,2' (repeatable).")
@click.option("--seed", default=0, show_default=True, help="Seed for sampling a large grid.")
@click.option("--write", is_flag=True, help="Write the best setting into retrieval.json "
              "(then `es-rag apply` stores it).")
@click.option("--source", metavar="NAME", help="Tune on the existing index of sources/NAME.json:"
              " the dataset's qrels name its document ids, its corpus is not indexed.")
@json_flag("Print one JSON object as the last line.")
@pass_context
@clear_errors
def tune(ctx: Context, dataset: Path, budget: int, grid_options: tuple[str, ...], seed: int,
         write: bool, source: str | None, as_json: bool) -> None:
    """Grid-search hybrid parameters on train queries; compare best vs current on test queries."""
    from es_rag import evaluate as ev
    from es_rag.evaluate import tuning
    from es_rag.retrieve.defaults import RetrievalFileError, read_file

    settings = ctx.settings
    try:
        grid = tuning.TuneGrid.from_mapping(dict(
            option.partition("=")[::2] for option in grid_options)) if grid_options else None
    except (ValueError, tuning.TuneError) as exc:
        raise click.BadParameter(str(exc), param_hint="--grid") from None
    try:
        current = tuning.HybridSetting.from_defaults(read_file(settings.assets))
    except RetrievalFileError as exc:
        raise click.ClickException(str(exc)) from None
    client, caps = ctx.connection()
    _, layout = source_target(ctx, source)
    if source:
        source_embedder(ctx, layout, "hybrid")  # refuses a model mismatch
    try:
        with StageProgress() as progress:
            result = tuning.tune(client, caps, dataset, embedder=run_embedder(ctx), grid=grid,
                                 layout=layout,
                                 budget=budget, seed=seed, chunk_size=settings.chunk_size,
                                 overlap=settings.chunk_overlap, current=current,
                                 mapping_path=settings.assets / "mappings" / "chunks.json",
                                 progress=progress)
        run_records.write_record(settings.data, "tune", json.loads(result.to_json()))
        if not as_json:
            ev.print_report(result.test_report())
        diff = result.diff_for_file(settings.assets)
        if write and diff:
            result.write_file(settings.assets)
            click.echo(f"wrote the best setting into {settings.assets / 'retrieval.json'}; "
                       "apply it with `es-rag apply`", err=as_json)
    except (tuning.TuneError, ev.JudgmentsError, ev.CorpusIndexError) as exc:
        raise click.ClickException(str(exc)) from None
    if not as_json:
        click.echo(diff or "retrieval.json already holds the best setting found")
    else:
        click.echo(result.to_json())
