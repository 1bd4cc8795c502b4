"""Follow-up questions become standalone questions: by rule (extractive) or by the LLM."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from es_rag.api.condense import condense, condense_by_rule, condense_prompt, needs_context
from es_rag.api.schemas import Turn
from es_rag.generate import ExtractiveGenerator, OpenAIGenerator


def user(text: str) -> Turn:
    return Turn(role="user", content=text)


def assistant(text: str) -> Turn:
    return Turn(role="assistant", content=text)


def test_a_question_that_refers_back_gets_the_previous_questions_terms() -> None:
    history = [user("When was the Eiffel Tower completed?"), assistant("In 1889 [1].")]
    standalone = condense_by_rule("Who designed it?", history)
    assert standalone == "Who designed it? Eiffel Tower completed"


def test_a_standalone_question_is_left_alone() -> None:
    history = [user("When was the Eiffel Tower completed?")]
    question = "How do nightly backups copy project volumes?"
    assert not needs_context(question)
    assert condense_by_rule(question, history) == question


def test_terms_carry_through_a_chain_of_follow_ups() -> None:
    history = [user("What does quota error ERR_4711 mean?"), assistant("The quota is full."),
               user("How do I fix it?"), assistant("Delete old snapshots.")]
    standalone = condense_by_rule("And why?", history)
    assert standalone.startswith("And why?")
    assert "ERR_4711" in standalone and "quota" in standalone and "fix" in standalone


def test_without_history_the_question_is_unchanged() -> None:
    generator = ExtractiveGenerator(None)
    assert condense("Who designed it?", [], generator) == "Who designed it?"
    assert condense("Who designed it?", [assistant("Hello!")], generator) == "Who designed it?"


class FakeCompletions:
    """Stands in for `openai.OpenAI().chat.completions`, replying with a fixed text."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.messages: list[Any] = []

    def create(self, **request: Any) -> Any:
        self.messages.append(request["messages"])
        message = SimpleNamespace(content=self.reply)
        return SimpleNamespace(choices=[SimpleNamespace(message=message)])


def openai_generator(reply: str) -> tuple[OpenAIGenerator, FakeCompletions]:
    completions = FakeCompletions(reply)
    client = SimpleNamespace(chat=SimpleNamespace(completions=completions))
    return OpenAIGenerator(model="test-model", client=client), completions  # type: ignore[arg-type]


def test_with_an_llm_the_model_rewrites_the_follow_up() -> None:
    generator, completions = openai_generator('Standalone question: "Who designed the '
                                              'Eiffel Tower?"\n')
    history = [user("When was the Eiffel Tower completed?"), assistant("In 1889 [1].")]
    assert condense("Who designed it?", history, generator) == "Who designed the Eiffel Tower?"
    prompt = completions.messages[0][0]["content"]
    assert "User: When was the Eiffel Tower completed?" in prompt
    assert "Assistant: In 1889 [1]." in prompt
    assert "Last question: Who designed it?" in prompt


def test_an_empty_llm_reply_falls_back_to_the_rule() -> None:
    generator, _ = openai_generator("   \n")
    history = [user("When was the Eiffel Tower completed?")]
    assert condense("Who designed it?", history, generator) == (
        "Who designed it? Eiffel Tower completed")


def test_the_prompt_shows_only_the_last_turns_shortened() -> None:
    history = [user(f"question number {n} " + "x" * 3000) for n in range(10)]
    prompt = condense_prompt("And then?", history)
    assert "question number 3" not in prompt and "question number 9" in prompt
    assert "x" * 1001 not in prompt
