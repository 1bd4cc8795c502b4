"""Sum a py-spy raw (collapsed stacks) profile by function, to name what dominates a phase.

Usage: python bench/profile_summary.py PROFILE.txt [--through FRAGMENT] [--top 25]
(`--through register.<locals>.bulk` keeps only the samples whose stack passes through it)
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE_NUMBER = re.compile(r":\d+\)$")


def summarise(lines: list[str], through: str | None) -> tuple[int, Counter[str], Counter[str]]:
    """Total samples, samples per function anywhere on the stack (inclusive), and samples per
    function and line at the top of the stack (self), over stacks containing `through`."""
    total, inclusive, own = 0, Counter[str](), Counter[str]()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or (through and through not in stack):
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        for function in {_LINE_NUMBER.sub(")", frame) for frame in frames}:
            inclusive[function] += samples
        own[frames[-1]] += samples
    return total, inclusive, own


def main() -> None:
    """Print the inclusive and self shares of the top functions."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--through", help="only stacks containing this text")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    lines = args.profile.read_text(encoding="utf-8").splitlines()
    total, inclusive, own = summarise(lines, args.through)
    if not total:
        raise SystemExit("no samples matched")
    print(f"{total} samples" + (f" through {args.through}" if args.through else ""))
    print("inclusive (function anywhere on the stack):")
    for function, samples in inclusive.most_common(args.top):
        print(f"  {samples / total:6.1%}  {function}")
    print("self (top of the stack):")
    for frame, samples in own.most_common(args.top):
        print(f"  {samples / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
