"""Date math index names: `<logs-{now/d}>`, `<events-{2016-04-22||/d{yyyy-MM-dd|UTC}}>`.

Elasticsearch's `DateMathExpressionResolver`: static text, then `{date math{format|time zone}}`
(format `uuuu.MM.dd` and UTC by default); `\\{` and `\\}` escape braces in static text.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from .dates import apply_date_math
from .errors import BadRequest
from .java_time import JavaDateFormat, parse_iso8601, zone

_DEFAULT_FORMAT = "uuuu.MM.dd"


def is_date_math(name: str) -> bool:
    return len(name) > 2 and name.startswith("<") and name.endswith(">")


def resolve(name: str, now: datetime | None = None) -> str:
    """The index name `name` stands for (unchanged when it is not a date math expression)."""
    if not is_date_math(name):
        return name
    text = name[1:-1]
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == "{":
            end = _closing(text, i, name)
            out.append(_expression(text[i + 1:end], name, now or datetime.now(UTC)))
            i = end + 1
        elif char == "}":
            raise _invalid(name, f"invalid character at position [{i + 1}]. `{{` and `}}` are "
                                 "reserved characters and should be escaped when used as part "
                                 "of the index name using `\\` (e.g. `\\{text\\}`)")
        else:
            out.append(char)
            i += 1
    return "".join(out)


def resolve_expression(expression: str | None) -> str | None:
    """An index expression (comma-separated names and patterns) with every date math name
    resolved."""
    if not expression:
        return expression
    return ",".join(resolve(part.strip()) for part in expression.split(","))


def _closing(text: str, start: int, name: str) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise _invalid(name, "date math placeholder is open ended")


def _expression(body: str, name: str, now: datetime) -> str:
    fmt, tz_name = _DEFAULT_FORMAT, "UTC"
    math = body
    if "{" in body:
        math, _, spec = body.partition("{")
        if not spec.endswith("}"):
            raise _invalid(name, "missing closing `}` for date math format")
        spec = spec[:-1]
        fmt, _, tz_part = spec.partition("|")
        tz_name = tz_part or "UTC"
        if not fmt:
            raise _invalid(name, "missing date format")
    try:
        tz: tzinfo = zone(tz_name)
        if math.startswith("now"):
            anchor, operations = now.astimezone(tz), math[3:]
        else:  # an explicit date, in the expression's format (what `date_index_name` writes)
            base, _, operations = math.partition("||")
            try:
                anchor = JavaDateFormat(fmt).parse(base, tz).astimezone(tz)
            except ValueError:
                anchor = parse_iso8601(base, tz).astimezone(tz)
        moment = apply_date_math(anchor, operations)
        return JavaDateFormat(fmt).format(moment)
    except (ValueError, BadRequest) as exc:
        reason = exc.reason if isinstance(exc, BadRequest) else str(exc)
        raise _invalid(name, reason) from None


def _invalid(name: str, reason: str) -> BadRequest:
    """DateMathExpressionResolver's parse error, quoting the expression inside `<` `>`."""
    return BadRequest(f"invalid dynamic name expression [{name[1:]}]. {reason}",
                      error_type="parse_exception")
