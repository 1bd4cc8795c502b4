"""Date math in index names (`<logs-{now/d}>`, `<logs-{now/M{uuuu.MM}}>`,
`<logs-{now/d{uuuu.MM.dd|+12:00}}>`), resolved as Elasticsearch's DateMathExpressionResolver
resolves them: static text with `{math{format|time zone}}` placeholders, `\\` escaping."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .dates import render_date, resolve_date_math
from .errors import BadRequest

DEFAULT_FORMAT = "uuuu.MM.dd"


def _invalid(expression: str, why: str) -> BadRequest:
    """Elasticsearch's parse_exception (it quotes the expression without its leading `<`)."""
    return BadRequest(f"invalid dynamic name expression [{expression}]. {why}",
                      error_type="parse_exception")


def resolve_index_name(expression: str, now_ms: int | None = None) -> str:
    """The index name a date math expression stands for (other names are returned as is)."""
    if not (expression.startswith("<") and expression.endswith(">")):
        return expression
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    text, quoted = expression[1:-1], expression[1:]
    out: list[str] = []
    holder: list[str] = []
    in_holder = in_format = escape = False
    for i, char in enumerate(text, start=1):
        escaped, escape = escape, False
        if char == "\\":
            if escaped:
                out.append(char)
            else:
                escape = True
            continue
        if not in_holder:
            if char == "{" and not escaped:
                in_holder = True
            elif char == "}" and not escaped:
                raise _invalid(quoted, f"invalid character at position [{i}]. `{{` and `}}` are "
                                     f"reserved characters and should be escaped when used as "
                                     f"part of the index name using `\\` (e.g. `\\{{text\\}}`)")
            else:
                out.append(char)
            continue
        if char == "{" and not (in_format and escaped):
            if in_format:
                raise _invalid(quoted, f"invalid character in placeholder at position [{i}]")
            in_format = True
            holder.append(char)
        elif char == "}" and not (in_format and escaped):
            if in_format:
                in_format = False
                holder.append(char)
            else:
                out.append(_placeholder("".join(holder), now_ms))
                holder, in_holder = [], False
        else:
            holder.append(char)
    if in_holder:
        raise _invalid(quoted, "date math placeholder is open ended")
    if not out:
        raise BadRequest("nothing captured", error_type="parse_exception")
    return "".join(out)


def resolve_expression(expression: str | None) -> str | None:
    """A comma-separated index expression with each date math name resolved (`-<...>`
    exclusions too)."""
    if expression is None or "<" not in expression:
        return expression
    return ",".join(f"-{resolve_index_name(p[1:])}" if p.startswith("-<") else
                    resolve_index_name(p) for p in expression.split(","))


def _placeholder(holder: str, now_ms: int) -> str:
    """One `{math{format|zone}}` placeholder, rendered."""
    start = holder.find("{")
    math, pattern, zone = holder, DEFAULT_FORMAT, "UTC"
    if start >= 0:
        if holder.rfind("}") != len(holder) - 1:
            raise _invalid(holder, "missing closing `}` for date math format")
        if start == len(holder) - 2:
            raise _invalid(holder, "missing date format")
        math = holder[:start]
        pattern, _, zone = holder[start + 1:-1].partition("|")
        zone = zone or "UTC"
    offset = _offset(zone, now_ms)
    # the math and rounding run on the zone's local time, as a zoned date math parser does
    local_now = now_ms + offset
    if math.startswith("now"):
        math_now = datetime.fromtimestamp(local_now / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        millis = resolve_date_math(f"{math_now[:-3]}Z||{math[3:]}", "strict_date_optional_time") \
            if math[3:] else local_now
    else:
        millis = resolve_date_math(math, pattern) + offset
    return render_date(millis, pattern)


def _offset(zone: str, now_ms: int) -> int:
    """Milliseconds a time zone (`+12:00`, `-05`, `Europe/Paris`, `UTC`) is ahead of UTC."""
    zone = zone.strip()
    if zone[:1] in "+-" and zone[1:].replace(":", "").isdigit():
        digits = zone[1:].replace(":", "").ljust(4, "0")
        minutes = int(digits[:2]) * 60 + int(digits[2:4])
        return (1 if zone[0] == "+" else -1) * minutes * 60_000
    try:
        info = ZoneInfo("UTC" if zone in ("Z", "UTC") else zone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise BadRequest(f"Unknown time-zone ID: {zone}", error_type="parse_exception") from err
    moment = datetime.fromtimestamp(now_ms / 1000, info)
    return int((moment.utcoffset() or timedelta()) / timedelta(milliseconds=1))
