"""Date parsing and formatting with Elasticsearch's format names and date math (`now-1d/d`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from .errors import BadRequest

DEFAULT_FORMAT = "strict_date_optional_time||epoch_millis"
DYNAMIC_DATE_FORMATS = ["strict_date_optional_time", "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd"]
_ISO = re.compile(
    r"^(?P<y>[+-]?\d{4,9})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$")
_JAVA_TOKENS = [("yyyy", "%Y"), ("uuuu", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"),
                ("mm", "%M"), ("ss", "%S"), ("SSSSSS", "%f"), ("SSS", "%f")]
_NAMED = {
    "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos",
    "strict_date_time", "date_time", "strict_date", "date", "basic_date",
    "strict_date_hour_minute_second", "date_hour_minute_second",
}


def _iso_millis(text: str, strict_date_only: bool = False) -> int | None:
    m = _ISO.match(text.strip())
    if not m or (strict_date_only and m.group("h")):
        return None
    parts = m.groupdict()
    frac = (parts["f"] or "0")[:6].ljust(6, "0")
    tz = UTC
    if parts["tz"] and parts["tz"] != "Z":
        sign = 1 if parts["tz"][0] == "+" else -1
        digits = parts["tz"][1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        tz = timezone(sign * offset)
    try:
        moment = datetime(int(parts["y"]), int(parts["mo"] or 1), int(parts["d"] or 1),
                          int(parts["h"] or 0), int(parts["mi"] or 0), int(parts["s"] or 0),
                          int(frac), tzinfo=tz)
    except ValueError:
        return None
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))


def _java_millis(text: str, pattern: str) -> int | None:
    fmt = pattern.replace("'T'", "T")
    for java, py in _JAVA_TOKENS:
        fmt = fmt.replace(java, py)
    try:
        moment = datetime.strptime(text, fmt).replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


def parse_date(value: object, fmt: str = DEFAULT_FORMAT) -> int:
    """Milliseconds since the epoch for a date value in one of `fmt`'s `||`-separated formats."""
    if isinstance(value, bool):
        raise ValueError(f"failed to parse date field [{value}] with format [{fmt}]")
    for name in fmt.split("||"):
        name = name.strip()
        if name in ("epoch_millis", "epoch_second"):
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            return int(number if name == "epoch_millis" else number * 1000)
        if isinstance(value, int | float) and name not in _NAMED:
            value = str(int(value)) if float(value).is_integer() else str(value)
        if not isinstance(value, str):
            continue
        millis = (_iso_millis(value, name in ("strict_date", "date")) if name in _NAMED
                  else _java_millis(value, name))
        if millis is not None:
            return millis
    raise ValueError(f"failed to parse date field [{value}] with format [{fmt}]")


NANOS_PER_MILLI = 1_000_000
MAX_NANOS = 2**63 - 1  # 2262-04-11T23:47:16.854775807Z
_FRACTION = re.compile(r":\d{2}[.,](\d{4,9})(?!\d)")


def parse_date_nanos(value: object, fmt: str = DEFAULT_FORMAT) -> int:
    """Nanoseconds since the epoch (`date_nanos`): the millisecond parse plus the fraction's
    sub-millisecond digits; dates outside 1970..2262 are refused as Elasticsearch refuses them."""
    millis = parse_date(value, fmt)
    extra = 0
    if isinstance(value, str):
        match = _FRACTION.search(value)
        if match:
            extra = int(match.group(1)[3:].ljust(6, "0"))
        elif "epoch_millis" in fmt and re.fullmatch(r"\d+\.\d+", value.strip()):
            extra = int(value.split(".", 1)[1][:6].ljust(6, "0"))
    elif isinstance(value, float) and "epoch_millis" in fmt:
        extra = round((value - int(value)) * NANOS_PER_MILLI)
    nanos = millis * NANOS_PER_MILLI + extra
    if nanos < 0:
        raise ValueError(f"date[{format_date(millis)}] is before the epoch in 1970 and cannot "
                         f"be stored in nanosecond resolution")
    if nanos > MAX_NANOS:
        raise ValueError(f"date[{format_date(millis)}] is after 2262-04-11T23:47:16.854775807 "
                         f"and cannot be stored in nanosecond resolution")
    return nanos


def format_date_nanos(nanos: int) -> str:
    """ISO-8601 UTC text with 3 to 9 fraction digits (`strict_date_optional_time_nanos`)."""
    millis, rest = divmod(nanos, NANOS_PER_MILLI)
    text = format_date(millis)
    fraction = (text[-4:-1] + f"{rest:06d}").rstrip("0").ljust(3, "0")
    return text[:-4] + fraction + "Z"


def render_date_nanos(nanos: int, fmt: str) -> str:
    """A `date_nanos` value in the first format of `fmt`."""
    name = fmt.split("||")[0].strip()
    if name in _NAMED:
        return format_date_nanos(nanos)
    if name.startswith("epoch"):
        return str(nanos // NANOS_PER_MILLI)
    if "SSSSSS" in name:
        micros = f"{(nanos // 1000) % 1_000_000:06d}"
        return render_date(nanos // NANOS_PER_MILLI, name.replace("SSSSSS", "\x00")
                           ).replace("\x00", micros)
    return render_date(nanos // NANOS_PER_MILLI, fmt)


def resolve_date_nanos(value: object, fmt: str, round_up: bool = False) -> int:
    """Nanoseconds for a range bound on a `date_nanos` field (date math as for dates; a
    rounded-up bound ends at the last nanosecond of its millisecond)."""
    plain = not isinstance(value, str) or ("now" not in value and "||" not in value)
    if plain and (not round_up or _precision(value, fmt) is None):
        try:
            return parse_date_nanos(value, fmt)
        except ValueError as err:
            raise BadRequest(str(err), error_type="parse_exception") from err
    millis = resolve_date_math(value, fmt, round_up)
    rounded = round_up and (plain or "/" in str(value))
    return millis * NANOS_PER_MILLI + (NANOS_PER_MILLI - 1 if rounded else 0)


def render_date(millis: int, fmt: str) -> str:
    """A date in the first format of `fmt` (Java-style patterns or ISO-8601)."""
    name = fmt.split("||")[0].strip()
    if name in _NAMED or name.startswith("epoch"):
        return str(millis) if name.startswith("epoch") else format_date(millis)
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    out = name.replace("'T'", "T")
    out = out.replace("SSS", f"{moment.microsecond // 1000:03d}")
    for java, py in _JAVA_TOKENS:
        if java not in ("SSS", "SSSSSS"):
            out = out.replace(java, moment.strftime(py))
    return out


def format_date(millis: int) -> str:
    """ISO-8601 UTC text with milliseconds, as Elasticsearch prints dates by default."""
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_MATH = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
_UNITS = {"y": "years", "M": "months", "w": "weeks", "d": "days", "h": "hours", "H": "hours",
          "m": "minutes", "s": "seconds"}


def _round(moment: datetime, unit: str, up: bool) -> datetime:
    fields = ["year", "month", "day", "hour", "minute", "second"]
    keep = {"y": 1, "M": 2, "d": 3, "w": 3, "h": 4, "H": 4, "m": 5, "s": 6}[unit]
    start = moment.replace(microsecond=0, **{f: (1 if f in ("month", "day") else 0)
                                              for f in fields[keep:]})
    if unit == "w":
        start -= timedelta(days=start.weekday())
    if not up:
        return start
    return _shift(start, unit, 1) - timedelta(milliseconds=1)


def _shift(moment: datetime, unit: str, amount: int) -> datetime:
    if unit == "y":
        return moment.replace(year=moment.year + amount)
    if unit == "M":
        month = moment.month - 1 + amount
        return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)
    return moment + timedelta(**{_UNITS[unit]: amount})


def _precision(value: object, fmt: str) -> str | None:
    """The finest unit a date text gives (`y`, `M`, `d`, `h`, `m`), None for full precision."""
    if isinstance(value, int | float) and not isinstance(value, bool) and "epoch" not in fmt:
        value = str(value)
    if not isinstance(value, str) or value.lstrip("-").isdigit() and "epoch" in fmt and \
            not any(t in fmt for t in ("yyyy", "uuuu")):
        return None
    for name in fmt.split("||"):
        name = name.strip()
        if name in _NAMED:
            m = _ISO.match(value.strip())
            if m:
                for group, unit in (("s", None), ("mi", "m"), ("h", "h"), ("d", "d"),
                                    ("mo", "M"), ("y", "y")):
                    if m.group(group):
                        return unit
        elif not name.startswith("epoch") and _java_millis(value, name) is not None:
            for token, unit in (("ss", None), ("mm", "m"), ("HH", "h"), ("dd", "d"),
                                ("MM", "M"), ("yyyy", "y"), ("uuuu", "y")):
                if token in name:
                    return unit
    return None


def resolve_date_math(value: object, fmt: str, round_up: bool = False) -> int:
    """Milliseconds for a range bound, accepting `now`, `now-1d/d` and `2024-01-01||+1M`."""
    if not isinstance(value, str) or ("now" not in value and "||" not in value):
        try:
            millis = parse_date(value, fmt)
        except ValueError as err:
            raise BadRequest(str(err), error_type="parse_exception") from err
        unit = _precision(value, fmt) if round_up else None
        if unit is None:
            return millis
        # as Elasticsearch's round-up parser: missing time fields take their largest value,
        # missing month and day stay 1 (lte 2024 = 2024-01-01T23:59:59.999)
        moment = datetime.fromtimestamp(millis / 1000, UTC)
        unit = "d" if unit in ("y", "M") else unit
        return int(_round(moment, unit, True).timestamp() * 1000)
    if value.startswith("now"):
        anchor, math = datetime.now(UTC), value[3:]
    else:
        base, math = value.split("||", 1)
        anchor = datetime.fromtimestamp(parse_date(base, fmt) / 1000, UTC)
    return int(apply_date_math(anchor, math, round_up).timestamp() * 1000)


def apply_date_math(anchor: datetime, math: str, round_up: bool = False) -> datetime:
    """`anchor` moved by date math operations (`+1d`, `-2h`, `/M`), rounded in its own zone."""
    pos = 0
    for m in _MATH.finditer(math):
        if m.start() != pos:
            break
        pos = m.end()
        if m.group(4):
            anchor = _round(anchor, m.group(4), round_up)
        else:
            sign = 1 if m.group(1) == "+" else -1
            anchor = _shift(anchor, m.group(3), sign * int(m.group(2)))
    if pos != len(math):
        raise BadRequest(f"operator not supported for date math [{math}]",
                         error_type="parse_exception")
    return anchor
