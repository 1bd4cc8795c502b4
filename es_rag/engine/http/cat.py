"""The `_cat` APIs' shared rendering: columns with aliases and descriptions, `h` to choose
them, `v` for a header row, `help` for the column list, `format=json`."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadRequest
from .rest import RestRequest, RestResponse


@dataclass(frozen=True)
class Column:
    """One column of a cat table, as Elasticsearch's `Table` declares it."""

    name: str
    aliases: tuple[str, ...]
    description: str
    default: bool = True


def chosen(columns: list[Column], spec: str | None) -> list[Column]:
    """The columns `h` names (names or aliases, in its order), the default ones without it."""
    if not spec:
        return [c for c in columns if c.default]
    out = []
    for name in (n.strip() for n in spec.split(",") if n.strip()):
        column = next((c for c in columns if name == c.name or name in c.aliases), None)
        if column is None:
            raise BadRequest(f"Unknown header: [{name}]")
        out.append(column)
    return out


def help_text(columns: list[Column]) -> str:
    """`?help`: one `name | aliases | description` line per column, aligned."""
    rows = [(c.name, ",".join(c.aliases), c.description) for c in columns]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "".join(f"{n.ljust(widths[0])} | {a.ljust(widths[1])} | {d}\n" for n, a, d in rows)


def render(req: RestRequest, columns: list[Column], rows: list[dict[str, str]]
           ) -> RestResponse:
    """The table for `rows` (values by column name) as the request asks for it."""
    if req.flag("help"):
        return RestResponse(help_text(columns), text=True)
    shown = chosen(columns, req.params.get("h"))
    if req.params.get("format") == "json":
        return RestResponse([{c.name: r[c.name] for c in shown} for r in rows])
    table = [[r[c.name] for c in shown] for r in rows]
    if req.flag("v"):
        table.insert(0, [c.name for c in shown])
    if not table:
        return RestResponse("", text=True)
    widths = [max(len(row[i]) for row in table) for i in range(len(shown))]
    lines = [" ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in table]
    return RestResponse("\n".join(lines) + "\n", text=True)
