"""Show an evaluation: a console table (rich) and a self-contained HTML report with a chart.

The HTML file has no external assets: the chart is an inline SVG drawn with matplotlib.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from jinja2 import Environment
from rich.console import Console
from rich.table import Table

from es_rag.evaluate.metrics import METRICS
from es_rag.evaluate.run import ConfigResult, EvaluationReport

WORST_QUERIES = 10
TEST_NAMES = {"student": "paired t-test", "fisher": "Fisher randomization test"}


def console_table(report: EvaluationReport) -> Table:
    """One row per configuration, one column per metric; the best value of each column bold."""
    table = Table(title=f"{report.dataset} ({report.split}, {report.subset}): "
                        f"{report.queries} queries")
    table.add_column("config")
    for metric in METRICS:
        table.add_column(metric, justify="right")
    table.add_column("p50 ms", justify="right")
    best = {m: max(r.means[m] for r in report.configs.values()) for m in METRICS}
    for name, result in report.configs.items():
        cells = [f"[bold]{result.means[m]:.4f}[/bold]" if result.means[m] == best[m]
                 else f"{result.means[m]:.4f}" for m in METRICS]
        table.add_row(name, *cells, f"{result.p50_ms:.1f}")
    return table


def print_report(report: EvaluationReport, console: Console | None = None) -> None:
    """Print the table and the significance tests to the console."""
    console = console or Console()
    console.print(console_table(report))
    for c in report.comparisons:
        mark = "significant" if c.significant else "not significant"
        console.print(f"{c.candidate} vs {c.baseline}: {c.metric} "
                      f"{c.candidate_mean - c.baseline_mean:+.4f} "
                      f"(p={c.p_value:.4f}, {TEST_NAMES[c.test]}, {mark})")


def metrics_chart_svg(report: EvaluationReport) -> str:
    """A grouped bar chart (metric × configuration) as an SVG document string."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = list(report.configs)
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    try:
        for i, name in enumerate(names):
            means = report.configs[name].means
            xs = [m + (i - (len(names) - 1) / 2) * width for m in range(len(METRICS))]
            ax.bar(xs, [means[m] for m in METRICS], width, label=name)
        ax.set_xticks(range(len(METRICS)), METRICS)
        ax.set_ylim(0, 1)
        ax.set_ylabel("score")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small", ncols=min(4, len(names)), loc="upper left")
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _worst(report: EvaluationReport, result: ConfigResult) -> list[dict[str, Any]]:
    rows = []
    qrels = report.judgments.qrels
    for qid, value in result.worst_queries("ndcg@10", WORST_QUERIES):
        ranked = [doc for doc, _ in result.rankings.get(qid, [])]
        relevant = {d for d, g in qrels[qid].items() if g > 0}
        ranks = [ranked.index(d) + 1 for d in relevant if d in ranked]
        rows.append({"qid": qid, "text": report.judgments.queries[qid], "ndcg": value,
                     "first_relevant": min(ranks) if ranks else None,
                     "relevant": sorted(relevant), "top": ranked[:3]})
    return rows


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>es-rag evaluation: {{ r.dataset }}</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
 table { border-collapse: collapse; margin: 1rem 0; }
 th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }
 th:first-child, td:first-child, td.text { text-align: left; }
 td.best { font-weight: bold; }
 .muted { color: #777; }
</style></head><body>
<h1>Evaluation: {{ r.dataset }}</h1>
<p class="muted">split {{ r.split }} · subset {{ r.subset }} · {{ r.queries }} queries ·
index {{ r.index }} · {{ "%.1f"|format(r.seconds) }} s</p>
<h2>Metrics</h2>
<table><tr><th>config</th>{% for m in metrics %}<th>{{ m }}</th>{% endfor %}<th>p50 ms</th></tr>
{% for name, res in r.configs.items() %}<tr><td>{{ name }}</td>
{% for m in metrics %}<td class="{{ 'best' if res.means[m] == best[m] else '' }}">
{{ "%.4f"|format(res.means[m]) }}</td>{% endfor %}
<td>{{ "%.1f"|format(res.p50_ms) }}</td></tr>{% endfor %}
</table>
<div class="chart">{{ chart|safe }}</div>
{% if r.comparisons %}<h2>Significance</h2>
<table><tr><th>candidate</th><th>baseline</th><th>metric</th><th>delta</th><th>p</th>
<th>test</th><th>significant</th></tr>
{% for c in r.comparisons %}<tr><td>{{ c.candidate }}</td><td>{{ c.baseline }}</td>
<td>{{ c.metric }}</td><td>{{ "%+.4f"|format(c.candidate_mean - c.baseline_mean) }}</td>
<td>{{ "%.4f"|format(c.p_value) }}</td><td>{{ c.test }}</td>
<td>{{ "yes" if c.significant else "no" }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Worst queries</h2>
{% for name, rows in worst.items() %}<h3>{{ name }}</h3>
<table><tr><th>query</th><th>text</th><th>nDCG@10</th><th>first relevant</th>
<th>relevant docs</th><th>top 3 retrieved</th></tr>
{% for row in rows %}<tr><td>{{ row.qid }}</td><td class="text">{{ row.text }}</td>
<td>{{ "%.4f"|format(row.ndcg) }}</td><td>{{ row.first_relevant or "—" }}</td>
<td class="text">{{ row.relevant|join(", ") }}</td>
<td class="text">{{ row.top|join(", ") }}</td></tr>{% endfor %}</table>{% endfor %}
</body></html>
"""


def render_html(report: EvaluationReport) -> str:
    """The HTML report: metrics table, chart, significance tests, worst queries per config."""
    best = {m: max(r.means[m] for r in report.configs.values()) for m in METRICS}
    template = Environment(autoescape=True).from_string(_HTML)
    return template.render(r=report, metrics=METRICS, best=best,
                           chart=metrics_chart_svg(report),
                           worst={name: _worst(report, res)
                                  for name, res in report.configs.items()})


def write_html_report(report: EvaluationReport, path: Path | str) -> Path:
    """Write the HTML report to `path` (parent folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
