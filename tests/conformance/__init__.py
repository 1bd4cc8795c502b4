"""Conformance runner: Elasticsearch's own YAML REST tests, run against any cluster over HTTP.

``python -m tests.conformance DIR [--url URL] [--json] [-k PATTERN] [-v]``; from Python,
``run_directory(root, client)`` returns one TestResult per test and ``summarize`` counts them.
"""

from .report import pass_rate, summarize
from .runner import Outcome, TestResult
from .session import run_directory

__all__ = ["Outcome", "TestResult", "pass_rate", "run_directory", "summarize"]
