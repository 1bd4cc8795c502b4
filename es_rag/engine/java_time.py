"""Java `DateTimeFormatter` patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`, `dd/MMM/yyyy:H:m:s Z`, …)
for parsing and printing dates the way the `date` processor and date math index names do."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$")
_ISO8601 = re.compile(
    r"^(?P<y>[+-]?\d{4,9})(?:-(?P<M>\d{1,2})(?:-(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2})(?::(?P<m>\d{1,2})(?::(?P<s>\d{1,2})(?:[.,](?P<S>\d{1,9}))?)?)?)?"
    r")?)?(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?$")
_SUPPORTED = "yuMLdDHkKhmsSnaEZXxzVG"


def zone(name: str) -> tzinfo:
    """A time zone from an id (`Europe/Amsterdam`, `UTC`, `Z`) or an offset (`+01:00`)."""
    if name in ("Z", "UTC", "GMT", "UT"):
        return UTC
    match = _OFFSET.match(name)
    if match:
        sign, hours, minutes, seconds = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0), seconds=int(seconds or 0))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown time-zone ID: {name}") from None


def parse_iso8601(text: str, default_zone: tzinfo) -> datetime:
    """Elasticsearch's lenient `ISO8601` date format."""
    match = _ISO8601.match(text.strip())
    if not match:
        raise ValueError(f"failed to parse date [{text}] with format [ISO8601]")
    parts = match.groupdict()
    fraction = (parts["S"] or "0")[:6].ljust(6, "0")
    moment = datetime(int(parts["y"]), int(parts["M"] or 1), int(parts["d"] or 1),
                      int(parts["H"] or 0), int(parts["m"] or 0), int(parts["s"] or 0),
                      int(fraction))
    return moment.replace(tzinfo=zone(parts["zone"]) if parts["zone"] else default_zone)


class JavaDateFormat:
    """One Java date pattern; raises `ValueError` for letters it does not support."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._tokens = _lex(pattern)
        regex, self._groups = _parse_regex(self._tokens)
        self._regex = re.compile(regex, re.IGNORECASE)

    def parse(self, text: str, default_zone: tzinfo) -> datetime:
        """The instant `text` stands for; fields absent from the pattern take 1970-01-01T00:00
        and `default_zone`. Raises `ValueError` when `text` does not match."""
        match = self._regex.fullmatch(text)
        if not match:
            raise ValueError(f"Text '{text}' could not be parsed with pattern [{self.pattern}]")
        fields = {"y": 1970, "M": 1, "d": 1, "H": 0, "m": 0, "s": 0, "us": 0}
        tz: tzinfo | None = None
        pm: bool | None = None
        hour12: int | None = None
        for group, (letter, count) in self._groups.items():
            value = match.group(group)
            if value is None:
                continue
            if letter in "yu":
                year = int(value)
                fields["y"] = 2000 + year if count == 2 else year
            elif letter in "ML":
                fields["M"] = _month(value) if count >= 3 else int(value)
            elif letter in "dHms":
                fields[letter] = int(value)
            elif letter == "k":
                fields["H"] = int(value) % 24
            elif letter in "hK":
                hour12 = int(value) % 12
            elif letter == "a":
                pm = value.lower() == "pm"
            elif letter in "Sn":
                fields["us"] = int(value[:6].ljust(6, "0")) if letter == "S" else int(value) // 1000
            elif letter in "ZXxzV":
                tz = zone("Z" if value.upper() in ("Z", "GMT") else value.removeprefix("GMT"))
        if hour12 is not None:
            fields["H"] = hour12 + (12 if pm else 0)
        moment = datetime(fields["y"], fields["M"], fields["d"], fields["H"], fields["m"],
                          fields["s"], fields["us"])
        return moment.replace(tzinfo=tz or default_zone)

    def format(self, moment: datetime) -> str:
        """Print `moment` (timezone-aware) with this pattern."""
        return "".join(token if isinstance(token, str) else _format(token, moment)
                       for token in self._tokens if token not in ("[", "]"))


Token = str | tuple[str, int]


def _lex(pattern: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = pattern.find("'", i + 1)
            if end == -1:
                raise ValueError(f"Pattern ends with an incomplete string literal: {pattern}")
            tokens.append("'" if end == i + 1 else pattern[i + 1:end].replace("''", "'"))
            i = end + 1
        elif char.isalpha():
            if char not in _SUPPORTED:
                raise ValueError(f"Unsupported pattern letter [{char}] in [{pattern}]")
            count = len(pattern[i:]) - len(pattern[i:].lstrip(char))
            tokens.append((char, count))
            i += count
        else:
            tokens.append(char)
            i += 1
    return tokens


def _parse_regex(tokens: list[Token]) -> tuple[str, dict[str, tuple[str, int]]]:
    parts: list[str] = []
    groups: dict[str, tuple[str, int]] = {}
    for index, token in enumerate(tokens):
        if token == "[":
            parts.append("(?:")
        elif token == "]":
            parts.append(")?")
        elif isinstance(token, str):
            parts.append(re.escape(token))
        else:
            name = f"g{index}"
            groups[name] = token
            parts.append(f"(?P<{name}>{_token_regex(*token)})")
    return "".join(parts), groups


def _token_regex(letter: str, count: int) -> str:
    if letter in "yu":
        return r"\d{2}" if count == 2 else (r"[+-]?\d{4,9}" if count >= 4 else r"[+-]?\d{1,9}")
    if letter in "ML":
        if count == 3:
            return "|".join(m[:3] for m in _MONTHS)
        if count >= 4:
            return "|".join(_MONTHS)
        return r"\d{2}" if count == 2 else r"\d{1,2}"
    if letter == "E":
        return "|".join(_DAYS) if count >= 4 else "|".join(d[:3] for d in _DAYS)
    if letter in "dHkKhms":
        return r"\d{2}" if count == 2 else r"\d{1,2}"
    if letter == "D":
        return r"\d{1,3}"
    if letter == "S":
        return rf"\d{{{count}}}"
    if letter == "n":
        return r"\d{1,9}"
    if letter == "a":
        return "AM|PM"
    if letter == "G":
        return "AD|BC"
    if letter in "zV":
        return r"[A-Za-z][A-Za-z0-9/_+-]*"
    return _offset_regex(letter, count)


def _offset_regex(letter: str, count: int) -> str:
    zulu = "Z|" if letter == "X" or letter == "Z" else ""
    if letter == "Z":
        shapes = {4: r"GMT[+-]\d{2}:\d{2}|GMT", 5: r"[+-]\d{2}:\d{2}"}
        return zulu + shapes.get(count, r"[+-]\d{4}")
    shapes = {1: r"[+-]\d{2}(?:\d{2})?", 2: r"[+-]\d{4}"}
    return zulu + shapes.get(count, r"[+-]\d{2}:\d{2}")


def _month(name: str) -> int:
    lowered = name.lower()
    return next(i for i, month in enumerate(_MONTHS, 1) if month.lower().startswith(lowered[:3]))


def _offset_text(moment: datetime, colon: bool, zulu: bool, short: bool = False) -> str:
    offset = moment.utcoffset() or timedelta(0)
    if zulu and not offset:
        return "Z"
    total = int(offset.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total), 60)
    if short and not minutes:
        return f"{sign}{hours:02d}"
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def _format(token: tuple[str, int], moment: datetime) -> str:
    letter, count = token
    if letter in "yu":
        return f"{moment.year % 100:02d}" if count == 2 else f"{moment.year:0{count}d}"
    if letter in "ML":
        if count >= 3:
            name = _MONTHS[moment.month - 1]
            return name if count >= 4 else name[:3]
        return f"{moment.month:0{count}d}"
    simple = {"d": moment.day, "H": moment.hour, "m": moment.minute, "s": moment.second,
              "k": moment.hour or 24, "h": moment.hour % 12 or 12, "K": moment.hour % 12,
              "D": moment.timetuple().tm_yday}
    if letter in simple:
        return f"{simple[letter]:0{count}d}"
    if letter == "S":
        return f"{moment.microsecond:06d}{'0' * 3}"[:count]
    if letter == "n":
        return str(moment.microsecond * 1000)
    if letter == "a":
        return "PM" if moment.hour >= 12 else "AM"
    if letter == "E":
        name = _DAYS[moment.weekday()]
        return name if count >= 4 else name[:3]
    if letter == "G":
        return "AD"
    if letter in "zV":
        return str(getattr(moment.tzinfo, "key", None) or moment.tzname() or "Z")
    if letter == "Z":
        if count >= 5:
            return _offset_text(moment, colon=True, zulu=True)
        return _offset_text(moment, colon=False, zulu=False)
    return _offset_text(moment, colon=count >= 3, zulu=letter == "X", short=count == 1)
