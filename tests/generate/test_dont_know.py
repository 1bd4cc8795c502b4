"""Recognising answers that say the sources lack the answer, and not real answers."""

from __future__ import annotations

import pytest

from es_rag.generate import DONT_KNOW, assemble_context, build_answer, is_dont_know
from es_rag.generate.providers.extractive import PREAMBLE

NO_ANSWER = [
    DONT_KNOW,
    "I don't know.",
    "I do not know who designed it.",
    "The sources do not contain the answer.",
    "The sources don't contain the answer to this question.",
    "The provided sources don't mention the boiling point of mercury.",
    "The provided sources don\u2019t mention \u2026",
    "The context does not provide information about mercury.",
    "The given context doesn't explicitly say when it was built.",
    "These passages do not address the question.",
    "The retrieved documents do not discuss pricing.",
    "The sources contain no information about mercury.",
    "The context provides nothing on this topic.",
    "The sources are silent on who paid for it.",
    "I cannot find this in the sources.",
    "I can't find the answer in the provided context.",
    "I could not find any information about that [1].",
    "I'm unable to answer this question based on the sources.",
    "I am not able to determine the year from the context.",
    "I don't have enough information to answer.",
    "There is no information about mercury in the sources.",
    "There's no mention of a boiling point.",
    "There is no answer in the provided sources.",
    "No information about mercury is given.",
    "Not enough information to answer.",
    "Insufficient information in the context.",
    "This information is not mentioned in the provided sources.",
    "The boiling point of mercury is not in the context.",
    "The answer was not found in the sources.",
    "The question cannot be answered from the provided sources.",
    "It cannot be determined from the context.",
    "Unfortunately, the sources do not mention it.",
    "I'm sorry, but I cannot find that in the sources.",
    "Based on the provided sources, I cannot answer this question.",
    "According to the context, there is no information about mercury.",
    "**The sources do not contain the answer.**",
    "The sources do not mention the boiling point. However, they describe the tower [2].",
]

REAL_ANSWERS = [
    "According to the sources, RRF does not need tuning [1].",
    "Based on the provided sources, reciprocal rank fusion merges two rankings [1].",
    "The sources describe reciprocal rank fusion as a way to merge rankings [1].",
    "The source says the tower was completed in 1889 [2].",
    "The provided sources show that backups are kept for thirty days [1].",
    "The context window of the model is 2048 tokens [1].",
    "The documents do not have a title field; es-rag uses the file name [1].",
    "Deleted chunks are not kept in the context [2].",
    "There is no need to tune weights: RRF uses ranks only [1].",
    "There is no charge for the VPN client [3].",
    "There is no data loss when a batch fails [1].",
    "No information is lost when a document fails [1].",
    "Documents that cannot be found in the index are reported [1].",
    "I can confirm that the quota error is ERR_4711 [1].",
    "The Eiffel Tower was completed in 1889 [1]. The sources do not mention its architect.",
    "RRF sums one over the rank constant plus the rank. I don't know who invented it.",
    f'{PREAMBLE}\n"The Eiffel Tower in Paris was completed in 1889." [1]',
    f'{PREAMBLE}\n"I don\'t know why the starter failed, said the baker." [1]',
]


@pytest.mark.parametrize("text", NO_ANSWER)
def test_ways_of_saying_the_sources_lack_the_answer_are_recognised(text: str) -> None:
    assert is_dont_know(text)


@pytest.mark.parametrize("text", REAL_ANSWERS)
def test_real_answers_that_mention_the_sources_are_not_taken_for_dont_know(text: str) -> None:
    assert not is_dont_know(text)


def test_a_no_answer_sentence_is_not_reported_unsupported_but_a_claim_beside_it_is(hits) -> None:
    context = assemble_context(hits)
    answer = build_answer("The sources do not mention the architect. It was invented in 1850.",
                          context, provider="test")
    assert answer.unsupported_sentences == ["It was invented in 1850."]
    assert answer.citations == []
