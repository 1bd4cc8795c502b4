"""Answer evaluation: ask golden questions, measure citations, context recall and refusals.

A golden file is JSON lines, one question each:

    {"id": "q1", "question": "…", "answer": ["…", "…"], "sources": ["docs/x.md"]}
    {"id": "u1", "question": "…", "unanswerable": true}

`answer` (a string or a list of acceptable texts) is found in a statement of the answer when
one of the texts occurs in it, case and Markdown aside; `sources` are matched against the
sources given to the generator by path suffix. Metrics (fractions, higher is better except
`wrong_refusals`):

- citation_coverage: answer statements that cite a source, over all statements of the answers;
- citation_precision: citations whose statement is found in (a quote) or supported by (a
  paraphrase) the cited chunk, over all citations including those es-rag had to remove;
- context_recall: expected sources among the sources given to the generator;
- correct_refusals / wrong_refusals: unanswerable questions refused / answerable ones refused;
- first_sentence_correct / answer_correct: answerable questions whose first sentence / some
  statement holds an expected answer text;
- judge_faithfulness / judge_correctness (with a judge model, `es_rag.evaluate.answer_judge`):
  answers whose statements the judge finds supported by their sources / graded as giving the
  expected answer, over the answers it graded.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from es_rag.connect import Capabilities
from es_rag.embedding.protocols import QueryEmbedder
from es_rag.errors import EsRagError
from es_rag.evaluate.baseline import BaselineError, Regression, comparable_baseline
from es_rag.generate import Answer, AskParams, Generator, ask, is_dont_know
from es_rag.generate.citations import MARKER
from es_rag.generate.quotes import clean_quote
from es_rag.generate.sentences import content_words, overlap, split_sentences

LOWER_IS_BETTER = frozenset({"wrong_refusals"})
_QUOTED = re.compile(r'^"(?P<quote>.+)"(?P<markers>(?:\s*\[\d+(?:\s*,\s*\d+)*\])*)\s*$',
                     re.DOTALL)
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
_SAME_RUN = ("golden", "questions")


class AnswerRegression(Regression):
    """A regression of an answer metric; for `wrong_refusals` a rise is the regression."""

    def __str__(self) -> str:
        if self.metric not in LOWER_IS_BETTER:
            return super().__str__()
        return (f"{self.config} {self.metric}: {self.measured:.4f} > baseline "
                f"{self.baseline:.4f} (rise {-self.drop:.4f})")


class GoldenError(EsRagError, ValueError):
    """A golden file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class GoldenQuestion:
    """One golden question: expected answer texts and sources, or marked unanswerable."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    sources: tuple[tuple[str, ...], ...] = ()
    unanswerable: bool = False


def _texts(value: Any, where: str, key: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise GoldenError(f"{where}: {key!r} must be a non-empty string or a list of them")
    return tuple(values)


def _sources(value: Any, where: str) -> tuple[tuple[str, ...], ...]:
    """Expected sources: each a path, or a list of paths any of which counts (copies)."""
    if not isinstance(value, list) or not value:
        raise GoldenError(f"{where}: 'sources' must be a non-empty list of paths (a path may be "
                          f"a list of alternatives, such as a document and its copy)")
    return tuple(_texts(v, where, "sources") for v in value)


def read_golden(path: Path | str) -> list[GoldenQuestion]:
    """The golden questions of a JSON-lines file (blank lines skipped), checked line by line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldenError(f"{path}: cannot read the golden file ({exc.strerror})") from None
    questions: list[GoldenQuestion] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldenError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) \
                or not row["question"].strip():
            raise GoldenError(f"{where}: expected an object with a non-empty \"question\"")
        unanswerable = row.get("unanswerable", False)
        if not isinstance(unanswerable, bool):
            raise GoldenError(f"{where}: \"unanswerable\" must be true or false")
        answers = _texts(row["answer"], where, "answer") if "answer" in row else ()
        sources = _sources(row["sources"], where) if "sources" in row else ()
        if unanswerable and (answers or sources):
            raise GoldenError(f"{where}: an unanswerable question has no answer or sources")
        if not unanswerable and not (answers or sources):
            raise GoldenError(f"{where}: give \"answer\" and/or \"sources\", or mark the "
                              f"question \"unanswerable\": true")
        questions.append(GoldenQuestion(id=str(row.get("id", number)), question=row["question"],
                                        answers=answers, sources=sources,
                                        unanswerable=unanswerable))
    if not questions:
        raise GoldenError(f"{path}: no golden questions")
    return questions


def _normal(text: str) -> str:
    text = clean_quote(text).lower().replace("\u2019", "'").replace("`", "").replace("*", "")
    return " ".join(text.split())


@dataclass(frozen=True)
class Statement:
    """One statement of an answer: its text (a quote's content when quoted) and cited numbers."""

    text: str
    cited: tuple[int, ...]
    quoted: bool


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for m in MARKER.finditer(text) for n in re.findall(r"\d+", m.group(1)))


def answer_statements(answer: Answer) -> list[Statement]:
    """The statements of an answer's body: each quote with its markers is one (an extractive
    quote may span lines), other text one per sentence; markers opening a sentence cite the
    one before it."""
    body = answer.text
    if answer.extractive and "\n" in body:
        body = body.split("\n", 1)[1]  # the extractive preamble is not a statement
    statements: list[Statement] = []
    pieces_of_body = re.split(r'\n(?=")', body) if answer.extractive else body.splitlines()
    for line in pieces_of_body:
        whole = _QUOTED.match(line.strip())
        for sentence in [line.strip()] if whole else split_sentences(line):
            leading = _LEADING_MARKERS.match(sentence)
            if leading and statements:
                last = statements[-1]
                statements[-1] = replace(last, cited=last.cited + _numbers(leading.group(0)))
                sentence = sentence[leading.end():].strip()
            quoted = _QUOTED.match(sentence)
            text = quoted.group("quote") if quoted else MARKER.sub("", sentence).strip()
            if text:
                cited = _numbers(quoted.group("markers") if quoted else sentence)
                statements.append(Statement(text, cited, bool(quoted)))
    return statements


def first_sentence(text: str) -> str:
    """The first sentence of a statement; a leading fragment of fewer than three content words
    (a label such as "Chunking.") is read together with the sentence after it."""
    sentences = split_sentences(clean_quote(text)) or [text]
    first = sentences[0]
    for following in sentences[1:]:
        if len(content_words(first)) >= 3:
            break
        first = f"{first} {following}"
    return first


@dataclass
class QuestionResult:
    """How one golden question was answered and scored."""

    id: str
    question: str
    unanswerable: bool
    answer: str
    refused: bool
    statements: int
    cited_statements: int
    citations: int
    precise_citations: int
    expected_sources: int
    retrieved_sources: int
    first_sentence_correct: bool | None
    answer_correct: bool | None
    removed_citations: list[str] = field(default_factory=list)
    instruction_like: int = 0
    ms: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    faithful: bool | None = None
    judged_correct: bool | None = None


def _precise(statement: Statement, source_text: str) -> bool:
    if statement.quoted:
        return _normal(statement.text) in _normal(source_text)
    return overlap(content_words(statement.text), content_words(source_text)) >= 0.5


def _source_matches(expected: str, source: str | None) -> bool:
    if not source:
        return False
    a, b = expected.strip("/"), source.strip("/")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def score_answer(golden: GoldenQuestion, answer: Answer, ms: float = 0.0) -> QuestionResult:
    """Score one answer against its golden question."""
    refused = is_dont_know(answer.text)
    statements = [] if refused else answer_statements(answer)
    given = {s.n: s for s in answer.sources_used}
    pairs = [(s, n) for s in statements for n in s.cited]
    precise = sum(1 for s, n in pairs if n in given and _precise(s, given[n].text))
    expected_texts = [_normal(a) for a in golden.answers]

    def holds(statement: Statement) -> bool:
        return any(t in _normal(statement.text) for t in expected_texts)

    first = answer_correct = None
    if golden.answers and not golden.unanswerable:
        first = bool(statements) and any(t in _normal(first_sentence(statements[0].text))
                                         for t in expected_texts)
        answer_correct = any(holds(s) for s in statements)
    retrieved = sum(1 for alternatives in golden.sources
                    if any(_source_matches(e, s.source) for e in alternatives
                           for s in answer.sources_used))
    return QuestionResult(
        id=golden.id, question=golden.question, unanswerable=golden.unanswerable,
        answer=answer.text, refused=refused, statements=len(statements),
        cited_statements=sum(1 for s in statements if s.cited),
        citations=len(pairs) + len(answer.removed_citations), precise_citations=precise,
        expected_sources=len(golden.sources), retrieved_sources=retrieved,
        first_sentence_correct=first, answer_correct=answer_correct,
        removed_citations=list(answer.removed_citations),
        instruction_like=len(getattr(answer, "instruction_like", []) or []), ms=round(ms, 1),
        timings=dict(answer.timings))


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


@dataclass
class AnswerReport:
    """Per-question results and the summary metrics of one answer evaluation."""

    golden: str
    provider: str
    results: list[QuestionResult]
    judge: str | None = None

    def metrics(self) -> dict[str, float]:
        """The summary metrics (a metric with nothing to measure is left out)."""
        answerable = [r for r in self.results if not r.unanswerable]
        unanswerable = [r for r in self.results if r.unanswerable]
        with_text = [r for r in answerable if r.first_sentence_correct is not None]
        values = {
            "citation_coverage": _ratio(sum(r.cited_statements for r in self.results),
                                        sum(r.statements for r in self.results)),
            "citation_precision": _ratio(sum(r.precise_citations for r in self.results),
                                         sum(r.citations for r in self.results)),
            "context_recall": _ratio(sum(r.retrieved_sources for r in answerable),
                                     sum(r.expected_sources for r in answerable)),
            "correct_refusals": _ratio(sum(r.refused for r in unanswerable), len(unanswerable)),
            "wrong_refusals": _ratio(sum(r.refused for r in answerable), len(answerable)),
            "first_sentence_correct": _ratio(sum(bool(r.first_sentence_correct)
                                                 for r in with_text), len(with_text)),
            "answer_correct": _ratio(sum(bool(r.answer_correct) for r in with_text),
                                     len(with_text)),
        }
        for metric, graded in (("judge_faithfulness", [r.faithful for r in self.results]),
                               ("judge_correctness", [r.judged_correct for r in self.results])):
            known = [g for g in graded if g is not None]
            values[metric] = _ratio(sum(known), len(known))
        return {k: v for k, v in values.items() if v is not None}

    def summary(self) -> dict[str, Any]:
        """The `--json` summary, shaped like a retrieval baseline (`configs` by provider)."""
        judged = {"judge": self.judge} if self.judge else {}
        return {"golden": self.golden, "questions": len(self.results),
                "answerable": sum(not r.unanswerable for r in self.results), **judged,
                "configs": {self.provider: self.metrics()}}

    def to_json(self) -> str:
        return json.dumps({**self.summary(), "results": [asdict(r) for r in self.results]})


def run_answer_evaluation(client: Elasticsearch, caps: Capabilities, index: str,
                          golden: Path | str | list[GoldenQuestion], *,
                          embedder: QueryEmbedder | None,
                          generator: Generator, params: AskParams | None = None,
                          as_user: str | None = None, client_side_acl_filter: bool = False,
                          name: str | None = None, judge: Any = None,
                          progress: Callable[[str, int, int | None], None] | None = None
                          ) -> AnswerReport:
    """Ask every golden question (a golden file, or its questions) against `index` as
    `es-rag ask` would, and score the answers; `name` names the golden set in the report.
    With a `judge` (an `AnswerJudge`), the judge also grades faithfulness and correctness.

    >>> report = run_answer_evaluation(client, caps, "chunks", "evaluate/golden/docs.jsonl",
    ...                                embedder=embedder, generator=generator)  # doctest: +SKIP
    >>> report.metrics()["citation_precision"]                                 # doctest: +SKIP
    """
    questions = golden if isinstance(golden, list) else read_golden(golden)
    name = name or ("golden" if isinstance(golden, list) else Path(golden).name)
    results = []
    for i, golden in enumerate(questions):
        started = time.perf_counter()
        answer = ask(client, caps, index, golden.question, params, embedder, generator,
                     as_user=as_user, client_side_acl_filter=client_side_acl_filter)
        result = score_answer(golden, answer, (time.perf_counter() - started) * 1000)
        if judge is not None:
            result.faithful = judge.faithful(answer)
            if not golden.unanswerable:
                result.judged_correct = judge.correct(golden.question, golden.answers, answer)
        results.append(result)
        if progress:
            progress("ask", i + 1, len(questions))
    return AnswerReport(golden=name, provider=generator.name, results=results,
                        judge=judge.model if judge is not None else None)


def check_answer_baseline(report: AnswerReport, baseline_path: Path | str,
                          max_drop: float = 0.01) -> list[Regression]:
    """Every metric worse than the baseline by more than `max_drop` (for `wrong_refusals`, a
    rise). Raises BaselineError when the baseline was measured on another golden set or
    provider."""
    summary = report.summary()
    baseline = comparable_baseline(baseline_path, summary, _SAME_RUN, max_drop)
    if report.provider not in baseline["configs"]:
        raise BaselineError(f"{baseline_path}: no baseline for provider {report.provider!r} "
                            f"(baseline: {', '.join(baseline['configs'])})")
    measured = report.metrics()
    regressions = []
    for metric, value in baseline["configs"][report.provider].items():
        if metric not in measured:
            continue
        worse = (measured[metric] - float(value) if metric in LOWER_IS_BETTER
                 else float(value) - measured[metric])
        if worse > max_drop + 1e-9:
            regressions.append(AnswerRegression(report.provider, metric, float(value),
                                                measured[metric]))
    return regressions


def write_answer_baseline(report: AnswerReport, path: Path | str) -> Path:
    """Store the report's summary as the new answer baseline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.summary(), indent=2) + "\n", encoding="utf-8")
    return path


def print_answer_report(report: AnswerReport) -> None:
    """A table of the metrics, then every question that was refused or answered wrongly."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table("metric", report.provider, title=f"answers: {report.golden}, "
                  f"{len(report.results)} questions")
    for metric, value in report.metrics().items():
        table.add_row(metric, f"{value:.4f}")
    console.print(table)
    for r in report.results:
        wrong = (r.refused != r.unanswerable) or r.first_sentence_correct is False
        if wrong:
            first = r.answer.splitlines()[1 if "\n" in r.answer else 0][:160]
            console.print(f"[yellow]{r.id}[/yellow] {r.question}\n    -> {first}",
                          markup=True, highlight=False)
