"""Command line: ``python -m tests.conformance DIR [--url URL] [--json] [-k PATTERN] [-v]``."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .cluster_users import provision_file_users
from .connection import make_client
from .report import (
    area_table,
    pass_rate,
    rates_line,
    result_line,
    summarize,
    summary_json,
    summary_line,
)
from .runner import TestResult
from .session import run_directory
from .target import TargetError
from .unsupported import DEFAULT_FILE, UnsupportedFileError, load_unsupported


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance",
        description="Run Elasticsearch YAML REST tests (every *.yml under DIR) against a cluster. "
                    "Without --url an embedded engine is started on a temporary data dir. "
                    "The target is WIPED after every test: never point it at data you need.")
    parser.add_argument("directory", type=Path, metavar="DIR", help="folder of YAML test files")
    parser.add_argument("--url", help="cluster to test, e.g. http://localhost:9200")
    parser.add_argument("--json", action="store_true",
                        help="end with one JSON line: passed, failed, skipped, by_area")
    parser.add_argument("-k", dest="pattern", metavar="PATTERN",
                        help="only tests whose 'area/file.yml :: name' contains PATTERN")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every request and full failing responses")
    parser.add_argument("--user", default=os.environ.get("ES_RAG_USER"),
                        help="basic-auth user (default: $ES_RAG_USER)")
    parser.add_argument("--password", default=os.environ.get("ES_RAG_PASSWORD"),
                        help="basic-auth password (default: $ES_RAG_PASSWORD)")
    parser.add_argument("--api-key", help="API key (base64 id:key) instead of user/password")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one test may take, requests included (default 60)")
    parser.add_argument("--unsupported", type=Path, default=DEFAULT_FILE,
                        help="file declaring unsupported APIs/features (default: unsupported.yml)")
    parser.add_argument("--fail-under", type=float, metavar="RATE",
                        help="exit 1 when passed/(passed+failed) is below RATE (0 to 1)")
    return parser


ENGINE_USER = "elastic"
@contextmanager
def _target_url(url: str | None) -> Iterator[tuple[str, str | None]]:
    """The URL to test, and the `elastic` password of the engine started when none is given.

    The engine runs with security on, as the x-pack suites expect, and the runner is its
    superuser, as the official runners are.
    """
    if url:
        yield url, None
        return
    try:
        from es_rag.engine.server import EngineServer
    except ImportError as exc:
        raise SystemExit(
            f"error: no --url given and the embedded engine cannot start: {exc}") from exc

    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="conformance-engine-") as data_dir:
        provision_file_users(Path(data_dir))
        server = EngineServer(Path(data_dir), port=0, elastic_password=password).start()
        try:
            yield server.url, password
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tests; print a line per test, the area table and the totals; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"DIR {args.directory} is not a directory")
    if args.fail_under is not None and not 0 <= args.fail_under <= 1:
        parser.error("--fail-under takes a rate between 0 and 1, e.g. 0.8")
    if args.api_key and (args.user or args.password):
        parser.error("give either --api-key or --user/--password, not both")
    if bool(args.user) != bool(args.password):
        parser.error("--user and --password (or ES_RAG_USER and ES_RAG_PASSWORD) go together")
    try:
        unsupported = load_unsupported(args.unsupported)
    except UnsupportedFileError as exc:
        parser.error(str(exc))

    def show(result: TestResult) -> None:
        print(result_line(result, args.verbose), flush=True)

    log = (lambda line: print(line, flush=True)) if args.verbose else None
    with _target_url(args.url) as (url, engine_password):
        if engine_password and not (args.user or args.api_key):
            args.user, args.password = ENGINE_USER, engine_password
        client = make_client(url, user=args.user, password=args.password,
                             api_key=args.api_key, timeout=args.timeout)
        try:
            results = run_directory(args.directory, client, pattern=args.pattern,
                                    test_timeout=args.timeout, unsupported=unsupported,
                                    on_result=show, log=log)
        except TargetError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            client.close()
    summary = summarize(results)
    print()
    print(area_table(summary))
    print(rates_line(summary))
    print(summary_line(summary))
    if args.json:
        print(summary_json(summary))
    rate = pass_rate(summary)
    if args.fail_under is not None and (rate or 0.0) < args.fail_under:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
