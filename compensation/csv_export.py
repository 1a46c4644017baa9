"""CSV files staff open in a spreadsheet: one writer, with formula injection neutralised.

A cell a spreadsheet would read as a formula (text starting with `=`, `+`, `-`, `@`, a tab or a
carriage return) is prefixed with `'`, so a customer who types `=HYPERLINK(…)` as their reason
cannot run anything on the agent's machine (OWASP "CSV injection"). Numbers stay numbers: only
text is touched, so a negative count is still a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str | int | Decimal:
    """One cell: numbers as they are, datetimes in ISO UTC, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text, one line at a time (header first), for files and streamed responses."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow([csv_cell(h) for h in header])
    yield flush()
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        yield flush()


def csv_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A streamed CSV download (a large export never sits in memory), never cached."""
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
