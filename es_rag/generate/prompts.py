"""Prompt templates (Jinja2) in `templates/prompts/<name>/{system,user}.j2`, selectable by name.

Templates receive `question`, `sources` (numbered sources, their document-controlled fields
neutralised: `es_rag.generate.fencing`), `fence` (this prompt's random fence code, to open
`<<<source N fence>>>` and close `<<<end N fence>>>` each source), `dont_know` (the exact
reply for an unanswerable question) and `max_sentences`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from es_rag.config import PROJECT_ROOT
from es_rag.errors import EsRagError
from es_rag.generate.context import Context
from es_rag.generate.fencing import fence_sources, new_fence_code

PROMPTS_DIR = PROJECT_ROOT / "templates" / "prompts"
DONT_KNOW = "I don't know: the sources do not contain the answer to this question."


class PromptError(EsRagError, ValueError):
    """An unknown or broken prompt template; the message lists the available ones."""


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: the system and the user message."""

    system: str
    user: str

    def messages(self) -> list[dict[str, str]]:
        """Chat messages for an OpenAI-style chat completion."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


def available_prompts(prompts_dir: Path = PROMPTS_DIR) -> list[str]:
    """Names of the prompt templates that have both system.j2 and user.j2."""
    if not prompts_dir.is_dir():
        return []
    return sorted(p.name for p in prompts_dir.iterdir()
                  if (p / "system.j2").is_file() and (p / "user.j2").is_file())


def render_prompt(name: str, question: str, context: Context, *,
                  prompts_dir: Path = PROMPTS_DIR, max_sentences: int = 5) -> Prompt:
    """Render prompt `name` for a question and its numbered sources.

    >>> render_prompt("default", "What is RRF?", context).messages()  # doctest: +SKIP
    """
    names = available_prompts(prompts_dir)
    if name not in names:
        raise PromptError(f"unknown prompt {name!r} (available: {', '.join(names) or 'none'} "
                          f"in {prompts_dir})")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(prompts_dir / name),
                             undefined=jinja2.StrictUndefined, autoescape=False,
                             trim_blocks=True, lstrip_blocks=True)
    fence = new_fence_code()
    values = {"question": question, "sources": fence_sources(context.sources, fence),
              "fence": fence, "dont_know": DONT_KNOW, "max_sentences": max_sentences}
    try:
        return Prompt(system=env.get_template("system.j2").render(values).strip(),
                      user=env.get_template("user.j2").render(values).strip())
    except jinja2.TemplateError as exc:
        raise PromptError(f"prompt {name!r} does not render: {exc}") from None
