"""Progress bars of long CLI work (ingest, evaluation, upload) on stderr."""

from __future__ import annotations

from typing import Any


class StageProgress:
    """A rich progress bar per ingest stage (hash, parse, embed, index, prune) on stderr.

    The parse line names the file being parsed (see `parsing`), also while a long parse runs.
    """

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[item]}"),
                            console=Console(stderr=True), transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> StageProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(f"{stage:>6}", total=total, item="")
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def parsing(self, file: Any) -> None:
        """Name the file whose parse starts on the parse line."""
        if "parse" not in self.tasks:
            self.tasks["parse"] = self.bar.add_task(f"{'parse':>6}", total=None, item="")
        self.bar.update(self.tasks["parse"], item=f"{file.source_name}/{file.source}")
