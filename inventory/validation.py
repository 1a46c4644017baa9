"""What the database can hold: pure checks shared by the imports, the API and the status client.

Each check takes a value and returns a problem (text for a person) or None; none touches the
database, the clock or the network. Every check runs in time linear in its input, so a hostile
file (100,000 columns, 100,000 nested brackets, a 5,000-digit number) is refused quickly with a
line-numbered error instead of holding a worker or crashing it.

Bounds (why these numbers):
- years 2000–2100: the shop did not exist before, and PostgreSQL/Python disagree about dates
  near year 1 (a `0001-01-01T00:00:00+14:00` becomes 1 BC in the database and 500s every page
  that reads it back);
- counters up to 1,000,000,000: the largest real profiles have a few hundred million followers; a
  larger value is a broken answer or a typo, and it must never reach an integer column;
- 64 columns (the stock file has 16), nesting depth 16 (an order file needs 5), 30 digits.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
COUNTER_MAX = 1_000_000_000
MAX_COLUMNS = 64
MAX_JSON_DEPTH = 16
MAX_NUMBER_DIGITS = 30

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_AS_IS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# JSON tokens that matter for the structure: strings (skipped whole, so brackets and digits
# inside them do not count), brackets, and runs of digits longer than the limit.
_JSON_TOKENS = re.compile(
    r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]|[\]}]|\d{' + str(MAX_NUMBER_DIGITS + 1) + ",}", re.DOTALL
)


def text_problem(value: str) -> str | None:
    """NUL characters and unpaired surrogates cannot be stored in PostgreSQL text."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character"
    return "contains invalid Unicode (an unpaired surrogate)"


def raw_line_problem(raw: bytes) -> str | None:
    """A physical line of a CSV file, before decoding."""
    if b"\x00" in raw:
        return "contains a NUL byte (is this a text file?)"
    return None


def header_problem(
    columns: Sequence[str],
    *,
    required: Iterable[str],
    optional: Iterable[str],
    max_columns: int = MAX_COLUMNS,
) -> str | None:
    """Missing, unknown or duplicated columns of a CSV header; linear in the header."""
    if len(columns) > max_columns:
        return f"too many columns ({len(columns)}; at most {max_columns})"
    required = tuple(required)
    allowed = {*required, *optional}
    present = set(columns)
    problems = []
    missing = [c for c in required if c not in present]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        problems.append(
            f"unknown column(s): {', '.join(repr(c) for c in unknown)} "
            f"(allowed: {', '.join((*required, *(c for c in optional if c not in required)))})"
        )
    duplicated = sorted(c for c, n in Counter(columns).items() if n > 1)
    if duplicated:
        problems.append(f"duplicated column(s): {', '.join(duplicated)}")
    return "; ".join(problems) or None


def json_structure_problem(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> tuple[int, str] | None:
    """(line, problem) for JSON nested deeper than `max_depth` or holding a number with more
    than MAX_NUMBER_DIGITS digits; None when neither. One pass, before the parser sees it (the
    parser would recurse once per bracket and convert any number, however long)."""
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        first = token.group()[0]
        if first == '"':
            continue
        if first in "[{":
            depth += 1
            if depth > max_depth:
                return _line_of(text, token.start()), f"nested deeper than {max_depth} levels"
        elif first in "]}":
            depth = max(0, depth - 1)
        else:
            return (
                _line_of(text, token.start()),
                f"a number with more than {MAX_NUMBER_DIGITS} digits",
            )
    return None


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def json_strings_problems(value: Any, *, path: str = "") -> Iterator[str]:
    """Every key or string anywhere in a parsed JSON value that the database cannot store, as
    `path: problem`. Iterative (the depth was bounded before parsing, but no recursion anyway)."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                yield f"{where or 'value'} {problem}"
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                child_path = f"{where}.{key}" if where else str(key)
                problem = text_problem(key)
                if problem:
                    yield f"a field name in {where or 'the object'} {problem}"
                    child_path = f"{where}.?" if where else "?"
                stack.append((child_path, child))
        elif isinstance(item, list):
            for index in range(len(item) - 1, -1, -1):
                stack.append((f"{where}[{index}]", item[index]))


def datetime_problem(
    value: datetime, *, now: datetime, future_tolerance: timedelta = timedelta(days=1)
) -> str | None:
    """Dates outside 2000–2100, or later than now + tolerance. Compared by year first: dates near
    year 1 with a positive offset cannot even be converted to UTC."""
    if value.year < EARLIEST.year or value.year >= LATEST.year:
        return f"is outside the years {EARLIEST.year}–{LATEST.year - 1}"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value < EARLIEST or value >= LATEST:
        return f"is outside the years {EARLIEST.year}–{LATEST.year - 1}"
    if value > now + future_tolerance:
        return "is in the future"
    return None


def counter_problem(value: int, *, maximum: int = COUNTER_MAX) -> str | None:
    # Python refuses to print integers beyond 4,300 digits: never format a huge one.
    shown = str(value) if value.bit_length() <= 64 else "a huge number"
    if value < 0:
        return f"must not be negative, got {shown}"
    if value > maximum:
        return f"is too large ({shown}; at most {maximum:,})"
    return None


def storable_text(value: str) -> str:
    """The text with every character PostgreSQL cannot store replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", value)


def json_storable(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A parsed JSON value as a jsonb column accepts it: unstorable characters in keys and
    strings replaced, nesting below `max_depth` cut to a marker (evidence keeps what was
    received, as far as it can be kept). A value that is storable already is returned as is
    (the checks store one per account: the walk below costs several times the test)."""
    if _storable_as_is(value, max_depth=max_depth):
        return value
    return _storable_copy(value, max_depth=max_depth)


def _storable_as_is(value: Any, *, max_depth: int) -> bool:
    """True only if `value` serialises as JSON with no NUL and with fewer brackets in all than
    `max_depth` allows nested (a bound on the nesting, however they are placed). orjson (a tenth
    of the standard library's time) refuses unpaired surrogates, keys that are not strings,
    integers beyond 64 bits and, with these options, dates and dataclasses, as the standard
    library did; those take the walk. (It writes UUIDs and enums by their values: parsed JSON has
    none.)"""
    try:
        text = orjson.dumps(value, option=_AS_IS_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one
        return False
    return b"\\u0000" not in text and text.count(b"{") + text.count(b"[") <= max_depth


def _storable_copy(value: Any, *, max_depth: int) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if max_depth <= 0:
        return "\u2026 (nested too deep to keep)"
    if isinstance(value, dict):
        return {
            storable_text(str(k)): _storable_copy(v, max_depth=max_depth - 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_storable_copy(v, max_depth=max_depth - 1) for v in value]
    return storable_text(str(value))
