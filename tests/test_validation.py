"""inventory.validation: what the database can hold, checked in linear time (pure functions)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from inventory.validation import (
    COUNTER_MAX,
    MAX_COLUMNS,
    MAX_JSON_DEPTH,
    counter_problem,
    datetime_problem,
    header_problem,
    json_storable,
    json_strings_problems,
    json_structure_problem,
    raw_line_problem,
    storable_text,
    text_problem,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _timed(func, *args, **kwargs):
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - started


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", None),
        ("émoji 🎉 and ünïcode", None),
        ("a\x00b", "contains a NUL character"),
        ("\ud800", "contains invalid Unicode (an unpaired surrogate)"),
        ("ok \udfff", "contains invalid Unicode (an unpaired surrogate)"),
    ],
)
def test_text_problem_names_what_postgresql_cannot_store(value: str, expected: str | None) -> None:
    assert text_problem(value) == expected


def test_raw_line_problem_finds_nul_bytes() -> None:
    assert raw_line_problem(b"sku,user\n") is None
    assert raw_line_problem(b"sku,us\x00er\n") == "contains a NUL byte (is this a text file?)"


def test_header_problem_lists_missing_unknown_and_duplicated_columns() -> None:
    columns = ["sku", "username", "username", "colour"]
    assert header_problem(columns, required=("sku", "username", "password"), optional=()) == (
        "missing column(s): password; unknown column(s): 'colour' "
        "(allowed: sku, username, password); duplicated column(s): username"
    )
    assert header_problem(["sku", "password"], required=("sku",), optional=("password",)) is None


def test_a_header_of_100000_columns_is_refused_at_once() -> None:
    columns = [f"c{i}" for i in range(100_000)]
    problem, seconds = _timed(header_problem, columns, required=("sku",), optional=())
    assert problem == f"too many columns (100000; at most {MAX_COLUMNS})"
    assert seconds < 0.05
    # Just under the limit, every column duplicated: still linear (the old check was O(n²)).
    same = ["sku"] * MAX_COLUMNS
    problem, seconds = _timed(header_problem, same, required=("sku",), optional=())
    assert problem == "duplicated column(s): sku"


def test_json_structure_problem_refuses_deep_nesting_with_its_line() -> None:
    text = '[\n  {"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n]"
    problem, seconds = _timed(json_structure_problem, text)
    assert problem == (2, f"nested deeper than {MAX_JSON_DEPTH} levels")
    assert seconds < 0.5


def test_json_structure_problem_refuses_a_5000_digit_number_with_its_line() -> None:
    text = '[\n{"order_id": "A"},\n{"likes": ' + "9" * 5000 + "}\n]"
    assert json_structure_problem(text) == (3, "a number with more than 30 digits")


def test_json_structure_problem_ignores_brackets_and_digits_inside_strings() -> None:
    text = json.dumps([{"notes": "[" * 1000 + "9" * 100 + '"quoted\\"'}])
    assert json_structure_problem(text) is None
    assert json_structure_problem(json.dumps([[[[1]]]])) is None


def test_json_structure_problem_is_linear_in_a_large_file() -> None:
    order = {"order_id": "X", "lines": [{"sku": "S", "accounts": [{"username": "u" * 40}] * 5}]}
    small = json.dumps([order] * 2_000)
    large = json.dumps([order] * 20_000)
    _, t_small = _timed(json_structure_problem, small)
    _, t_large = _timed(json_structure_problem, large)
    assert t_large < max(t_small, 0.002) * 30  # 10× the input, well under 30× the time


def test_json_strings_problems_reports_every_path_with_an_unstorable_string() -> None:
    value = [{"order_id": "\ud800", "lines": [{"sku": "ok", "notes": "a\x00"}]}, {"\x00": 1}]
    assert list(json_strings_problems(value)) == [
        "[0].order_id contains invalid Unicode (an unpaired surrogate)",
        "[0].lines[0].notes contains a NUL character",
        "a field name in [1] contains a NUL character",
    ]
    assert list(json_strings_problems({"a": ["b", {"c": "d"}]})) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0001-01-01T00:00:00+14:00", "is outside the years 2000–2099"),
        ("1999-12-31T23:59:59+00:00", "is outside the years 2000–2099"),
        ("2100-01-01T00:00:00+00:00", "is outside the years 2000–2099"),
        ("9999-12-31T23:59:59-14:00", "is outside the years 2000–2099"),
        ("2026-03-02T12:00:01+00:00", "is in the future"),
        ("2026-03-02T11:59:00+00:00", None),
        ("2000-01-01T00:00:00+00:00", None),
        ("2025-06-01T10:00:00", None),
    ],
)
def test_datetime_problem_bounds_dates(text: str, expected: str | None) -> None:
    assert datetime_problem(datetime.fromisoformat(text), now=NOW) == expected


def test_datetime_problem_tolerance_is_configurable() -> None:
    soon = NOW + timedelta(minutes=10)
    assert datetime_problem(soon, now=NOW, future_tolerance=timedelta(minutes=5)) == (
        "is in the future"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, None),
        (COUNTER_MAX, None),
        (COUNTER_MAX + 1, "is too large (1000000001; at most 1,000,000,000)"),
        (10**12, "is too large (1000000000000; at most 1,000,000,000)"),
        (-1, "must not be negative, got -1"),
        (10**5000, "is too large (a huge number; at most 1,000,000,000)"),
    ],
    ids=["zero", "max", "max+1", "10^12", "negative", "10^5000"],
)
def test_counter_problem_bounds_counters(value: int, expected: str | None) -> None:
    assert counter_problem(value) == expected


def test_json_storable_replaces_what_jsonb_refuses_and_cuts_deep_nesting() -> None:
    value = {"user\x00name": ["ok", "\ud800", {"n": 10**40}], "flag": True, "x": None}
    assert json_storable(value) == {
        "user\ufffdname": ["ok", "\ufffd", {"n": 10**40}],
        "flag": True,
        "x": None,
    }
    deep: list[object] = []
    cursor = deep
    for _ in range(100):
        inner: list[object] = []
        cursor.append(inner)
        cursor = inner
    cut = json_storable(deep, max_depth=3)
    assert cut == [[["\u2026 (nested too deep to keep)"]]]
    assert storable_text("a\x00b\udfff") == "a\ufffdb\ufffd"


def test_a_storable_value_is_kept_as_it_is_and_the_quick_test_never_decides_wrongly() -> None:
    clean = {"state": "locked", "interactions": {"likes": 0}, "list": [1, 2.5, None, True]}
    assert json_storable(clean) is clean  # nothing to replace: no copy made
    at_the_limit = [[["x"]]]
    assert json_storable(at_the_limit, max_depth=3) is at_the_limit
    # Brackets inside strings count for the quick test, which then hands over to the walk:
    # the answer is the same value (as a copy).
    bracketed = {"note": "[[[[[[ {{{{"}
    kept = json_storable(bracketed, max_depth=2)
    assert kept == bracketed and kept is not bracketed
    # A NUL escaped in JSON, a backslash before "u0000", NaN and a non-JSON value all go
    # through the walk.
    assert json_storable({"a": "x\x00y"}) == {"a": "x\ufffdy"}
    assert json_storable({"a": "\\u0000"}) == {"a": "\\u0000"}
    assert json_storable({"a": float("inf")})["a"] == float("inf")
    assert json_storable({"a": object})["a"] == str(object)
    # Dates are not JSON: the walk writes them as text, as the standard library's test sent it.
    at = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert json_storable({"at": at}) == {"at": str(at)}
