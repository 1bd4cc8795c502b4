"""The allow-list of known violations (`allowed.txt`): read it and compare it with a check."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .rules import Violation

ALLOWED = Path(__file__).with_name("allowed.txt")
REASON = "reason:"


class AllowListError(ValueError):
    """The allow-list file is malformed (the message names the line)."""


@dataclass
class Outcome:
    """A check against the allow-list: what is new, what was fixed but is still listed."""

    found: list[Violation]
    allowed: dict[str, str]
    new: list[Violation] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        keys = {v.key for v in self.found}
        self.new = [v for v in self.found if v.key not in self.allowed]
        self.stale = [key for key in self.allowed if key not in keys]

    @property
    def ok(self) -> bool:
        return not self.new and not self.stale


def read_allowed(path: Path = ALLOWED) -> dict[str, str]:
    """Listed violation (`rule subject`) → the reason it is still there. Each entry comes under
    a `reason: …` line; `#` starts a comment."""
    allowed: dict[str, str] = {}
    reason = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(REASON):
            reason = line[len(REASON):].strip()
            if not reason:
                raise AllowListError(f"{path.name}:{number}: an empty reason")
            continue
        if not reason:
            raise AllowListError(f"{path.name}:{number}: [{line}] has no reason above it")
        if line in allowed:
            raise AllowListError(f"{path.name}:{number}: [{line}] is listed twice")
        allowed[" ".join(line.split())] = reason
    return allowed
