"""Answer metrics as a reviewer reads them: what counts as covered, precise, recalled, refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from es_rag.evaluate import BaselineError
from es_rag.evaluate.answers import (
    AnswerReport,
    GoldenError,
    GoldenQuestion,
    check_answer_baseline,
    read_golden,
    score_answer,
    write_answer_baseline,
)
from es_rag.generate import DONT_KNOW, Answer, assemble_context, build_answer
from es_rag.generate.providers.extractive import PREAMBLE
from es_rag.retrieve import Hit

TOWER = "The Eiffel Tower stands in Paris. It was completed in 1889 for the World's Fair."
BREAD = "Sourdough bread rises with wild yeast. The starter is fed with flour and water."


@pytest.fixture
def context():
    return assemble_context([
        Hit(chunk_id="eiffel#0", doc_id="e", score=1.0, source="docs/paris/eiffel.md", text=TOWER),
        Hit(chunk_id="bread#0", doc_id="b", score=0.5, source="docs/bread.pdf", text=BREAD)])


GOLDEN = GoldenQuestion(id="q", question="When was the tower completed?", answers=("1889",),
                        sources=(("paris/eiffel.md",), ("bread.md", "bread.pdf")))


def test_a_faithful_quoted_answer_scores_full_marks(context) -> None:
    text = f'{PREAMBLE}\n"It was completed in 1889 for the World\'s Fair." [1]'
    result = score_answer(GOLDEN, build_answer(text.split("\n", 1)[1], context,
                                               provider="extractive", extractive=True,
                                               preamble=PREAMBLE))
    assert (result.statements, result.cited_statements) == (1, 1)
    assert (result.citations, result.precise_citations) == (1, 1)
    assert (result.expected_sources, result.retrieved_sources) == (2, 2)
    assert result.first_sentence_correct and result.answer_correct and not result.refused


def test_misquotes_uncited_sentences_and_removed_citations_cost_precision(context) -> None:
    answer = build_answer('"It was completed in 1890." [1] Bread needs wild yeast [2][9]. '
                          "The tower is tall.", context, provider="openai")
    result = score_answer(GOLDEN, answer)
    assert result.statements == 3 and result.cited_statements == 2
    assert result.citations == 3 and result.precise_citations == 1  # misquote, removed [9]
    assert result.first_sentence_correct is False and result.answer_correct is False


def test_refusals_are_right_for_unanswerable_questions_only(context) -> None:
    refused = build_answer(DONT_KNOW, context, provider="openai")
    unanswerable = GoldenQuestion(id="u", question="Boiling point of mercury?",
                                  unanswerable=True)
    report = AnswerReport("g.jsonl", "openai", [score_answer(unanswerable, refused),
                                                 score_answer(GOLDEN, refused)])
    metrics = report.metrics()
    assert metrics["correct_refusals"] == 1.0 and metrics["wrong_refusals"] == 1.0
    assert metrics["first_sentence_correct"] == 0.0


def test_golden_files_are_checked_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "golden.jsonl"
    path.write_text('{"question": "Q?", "answer": "A", "sources": [["a.md", "a.pdf"]]}\n\n'
                    '{"id": "u", "question": "U?", "unanswerable": true}\n')
    first, second = read_golden(path)
    assert first.sources == (("a.md", "a.pdf"),) and second.unanswerable
    for line, message in (("not json", ":1: invalid JSON"),
                          ('{"question": "Q?"}', ':1: give "answer" and/or "sources"'),
                          ('{"question": "Q?", "unanswerable": true, "answer": "A"}',
                           ":1: an unanswerable question has no answer"),
                          ('{"question": "Q?", "sources": "a.md"}', ":1: 'sources' must be")):
        path.write_text(line + "\n")
        with pytest.raises(GoldenError, match=message):
            read_golden(path)


def test_the_gate_fails_on_drops_and_on_more_wrong_refusals(context, tmp_path: Path) -> None:
    refused = build_answer(DONT_KNOW, context, provider="openai")
    report = AnswerReport("g.jsonl", "openai", [score_answer(GOLDEN, refused)])
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"golden": "g.jsonl", "questions": 1, "configs": {
        "openai": {"wrong_refusals": 0.0, "answer_correct": 0.0, "first_sentence_correct": 1}}}))
    regressions = {r.metric: str(r) for r in check_answer_baseline(report, baseline)}
    assert set(regressions) == {"wrong_refusals", "first_sentence_correct"}
    assert "1.0000 > baseline 0.0000" in regressions["wrong_refusals"]
    assert check_answer_baseline(report, write_answer_baseline(report, baseline)) == []
    baseline.write_text(json.dumps({"golden": "other.jsonl", "configs": {"openai": {}}}))
    with pytest.raises(BaselineError, match="baseline golden is 'other.jsonl'"):
        check_answer_baseline(report, baseline)
    assert isinstance(refused, Answer)
