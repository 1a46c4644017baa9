"""The stock reader's two roads (inventory/stock_rows.py): a common row is read by
`_plain_record`, anything else by the general check. Whatever a file holds, the records and the
errors must be exactly those of the general check alone."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory import stock_rows
from inventory.import_rows import NoProgress, RowError
from inventory.models import Product
from inventory.stock_rows import STOCK_OPTIONAL, STOCK_REQUIRED, StockFile, StockRecord

PRODUCTS: dict[str, Product | None] = {
    "IG": Product(sku="IG", platform="instagram"),
    "X": Product(sku="X", platform="x"),
}

# Per column: values every rule accepts (spaces to strip included), then values near the
# boundary of a rule. Most cells of a generated row are of the first kind, so that most rows are
# valid or wrong in one way only.
TEXT = (
    ["", "a", " a ", "é" * 64, "Ünï"],
    [" ", "a b", "\u00a0x", "x\u2003", "tab\there", "q" * 65],
)
COUNTER = (
    ["", "0", "7", "007", "999999999", "1000000000"],
    [" ", " 7", "-1", "1.5", "x", "²", "٣", "1000000001", "0" * 10],
)
CELLS = {
    "sku": (["IG", " IG ", "X"], ["", "NOPE", "ig"]),
    "username": (
        ["user", " user ", "USER", "ü" * 150],
        ["u s", "", " ", "u\u00a0s", "u" * 151, "a\u2028b"],
    ),
    "password": (["pw", " pw ", "p,w", 'p"w'], ["", "  ", "\t"]),
    "user_id": TEXT,
    "email": (["", "a@b.co", " a@b.co ", "x@[127.0.0.1]"], [" ", "bad", "a@-x.example", "é@b.co"]),
    "email_password": TEXT,
    "two_factor_secret": TEXT,
    "supplier": (["", "farm", " farm ", "s" * 100], ["s" * 101, "\u00a0"]),
    "notes": TEXT,
    **{
        kind: COUNTER
        for kind in ("followers", "posts", "reposts", "comments", "likes", "follows", "messages")
    },
}
OPTIONAL = [c for c in STOCK_OPTIONAL if c in CELLS]


def _read(content: bytes) -> tuple[list[StockRecord], list[RowError], int, str]:
    errors: list[RowError] = []
    stock_file = StockFile(
        io.BytesIO(content), dict(PRODUCTS), errors, NoProgress(), all_products_known=True
    )
    records = list(stock_file.rows())
    return records, errors, stock_file.rows_total, stock_file.hasher.hexdigest()


def _general_only(content: bytes) -> tuple[list[StockRecord], list[RowError], int, str]:
    with mock.patch.object(stock_rows, "_plain_record", lambda *args: None):
        return _read(content)


@st.composite
def stock_files(draw: Any) -> bytes:
    columns = [*STOCK_REQUIRED, *draw(st.lists(st.sampled_from(OPTIONAL), unique=True))]
    columns = draw(st.permutations(columns))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for _ in range(draw(st.integers(1, 6))):
        row = [
            draw(st.sampled_from(CELLS[column][draw(st.integers(0, 5)) == 0])) for column in columns
        ]
        if draw(st.integers(0, 9)) == 0:
            row = row[: draw(st.integers(0, len(row) - 1))] or [*row, "extra"]
        writer.writerow(row)
    return out.getvalue().encode()


@settings(max_examples=400, deadline=None)
@given(stock_files())
def test_every_row_reads_as_the_general_check_alone_reads_it(content: bytes) -> None:
    assert _read(content) == _general_only(content)


def test_plain_rows_never_reach_the_general_check() -> None:
    content = (
        b"sku,username,password,email,followers,posts,supplier,notes\n"
        b"IG,alice,  pw ,a@b.co,12,,farm, aged \n"
        b"X,bob,pw,,,,,\n"
    )
    with mock.patch.object(StockFile, "_checked", side_effect=AssertionError("general check")):
        records, errors, rows_total, sha256 = _read(content)
    assert errors == [] and rows_total == 2
    assert sha256 == hashlib.sha256(content).hexdigest()
    assert records == [
        StockRecord(
            2,
            PRODUCTS["IG"],  # type: ignore[arg-type]
            "alice",
            "",
            "farm",
            "  pw ",
            "a@b.co",
            "",
            "",
            "aged",
            (12, None, None, None, None, None, None),
        ),
        StockRecord(
            3,
            PRODUCTS["X"],  # type: ignore[arg-type]
            "bob",
            "",
            "",
            "pw",
            "",
            "",
            "",
            "",
            (None,) * 7,
        ),
    ]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("IG,u s,pw,,", "username 'u s' contains whitespace"),
        ("IG,u,  ,,", "password is required"),
        ("IG,u,pw,a@-x.example,", "email is not a valid e-mail address"),
        ("IG,u,pw,,1000000001", "followers is too large (1000000001)"),
        ("IG,u,pw,, 12 ", None),  # spaces around a counter: the general check strips them
    ],
)
def test_rows_the_plain_road_declines_get_the_general_verdict(
    row: str, problem: str | None
) -> None:
    records, errors, _, _ = _read(f"sku,username,password,email,followers\n{row}\n".encode())
    assert [str(e) for e in errors] == ([f"line 2: {problem}"] if problem else [])
    assert [r.baseline[0] for r in records] == ([] if problem else [12])
