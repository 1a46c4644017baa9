"""CSV exports: formula injection is neutralised, everything else is written as it is."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import cast

import pytest

from compensation.csv_export import csv_cell, csv_lines, csv_response


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil.test","click")', '\'=HYPERLINK("http://evil.test","click")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("plain text", "plain text"),
        ("a = b", "a = b"),  # only a leading sign makes a formula
        ("", ""),
        ("buyer@example.com", "buyer@example.com"),
    ],
)
def test_text_cells_that_a_spreadsheet_would_run_are_prefixed(value: str, written: str) -> None:
    assert csv_cell(value) == written


def test_numbers_stay_numbers_and_other_values_are_plain() -> None:
    assert csv_cell(-3) == -3
    assert csv_cell(Decimal("0.2500")) == Decimal("0.2500")
    assert csv_cell(None) == ""
    assert csv_cell(True) == "yes"
    assert csv_cell(False) == "no"
    at = datetime(2025, 3, 14, 13, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    assert csv_cell(at) == "2025-03-14 12:30:05"  # UTC
    assert csv_cell(datetime(2025, 3, 14, 12, 0, tzinfo=UTC)) == "2025-03-14 12:00:00"


def test_a_written_file_reads_back_with_the_prefix_and_quoting_intact() -> None:
    rows = [
        ["A1001", "=cmd|' /C calc'!A0", 2],
        ["A1002", 'says "hi",\nthen -1', -1],
    ]
    text = "".join(csv_lines(["order", "reason", "n"], rows))
    assert list(csv.reader(io.StringIO(text))) == [
        ["order", "reason", "n"],
        ["A1001", "'=cmd|' /C calc'!A0", "2"],
        ["A1002", 'says "hi",\nthen -1', "-1"],
    ]


def test_the_response_is_a_private_download() -> None:
    response = csv_response(filename="queue.csv", header=["a"], rows=[["@x"]])
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="queue.csv"'
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(cast(Iterator[bytes], response.streaming_content)) == b"a\n'@x\n"
