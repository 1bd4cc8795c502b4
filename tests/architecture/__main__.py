"""Run the structure check: exit 0 when every violation is a listed one and every listed one
is still there, 1 otherwise (a new violation, or a fixed one still listed)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from .allow_list import ALLOWED, AllowListError, Outcome, read_allowed
from .rules import check

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.architecture", description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository to check")
    parser.add_argument("--allowed", type=Path, default=ALLOWED, help="the allow-list file")
    parser.add_argument("--list", action="store_true",
                        help="print every violation found, listed or not")
    args = parser.parse_args(argv)
    try:
        outcome = Outcome(check(args.root), read_allowed(args.allowed))
    except (AllowListError, OSError, SyntaxError) as err:
        print(f"architecture: {err}", file=sys.stderr)
        return 2
    if args.list:
        for v in outcome.found:
            print(f"{v.key}    ({v.detail})")
    for v in outcome.new:
        print(f"NEW {v.key}    ({v.detail})")
    for key in outcome.stale:
        print(f"FIXED BUT STILL LISTED {key}: remove it from {args.allowed.name}")
    counts = Counter(v.rule for v in outcome.found)
    summary = ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items())) or "none"
    print(f"architecture: {len(outcome.found)} violations ({summary}); "
          f"{len(outcome.new)} new, {len(outcome.stale)} fixed but still listed")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
