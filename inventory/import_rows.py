"""The machinery every import shares (products, stock, orders): reading CSV files line by line,
row errors with their line numbers, the report, progress bars, chunking and the `ImportBatch`
record of each run. Public names only: `orders.services` uses them as much as inventory does.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from .audit import Actor, actor_pk
from .models import ImportBatch
from .validation import header_problem, raw_line_problem

BATCH_SIZE = 1000


# --- Results -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportReport:
    """What an import did (or, for a dry run / a rejected file, would do)."""

    kind: str
    filename: str
    dry_run: bool = False
    sha256: str = ""
    rows_total: int = 0
    created: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    batch_id: int | None = None
    product_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        text = (
            f"{self.kind} import of {self.filename}: {self.rows_total} row(s), "
            f"{verb} {self.created}, skipped {self.skipped} already present"
        )
        if self.errors:
            text += f", {len(self.errors)} error(s): nothing imported"
        return text


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...

    def close(self) -> Any: ...


# (description, total rows or None) -> a progress bar; the commands pass a tqdm factory.
ProgressFactory = Callable[[str, int | None], Progress]


class NoProgress:
    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


def progress_bar(factory: ProgressFactory | None, desc: str, total: int | None) -> Progress:
    return factory(desc, total) if factory else NoProgress()


class ImportAborted(Exception):
    """Raised inside the write transaction to roll it back (the report carries the reason)."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


# --- Reading files -----------------------------------------------------------------------------
def _decoded_lines(stream: IO[bytes], errors: list[RowError], hasher: Any) -> Iterator[str]:
    """Yield the file's physical lines as text; record every line that is not valid UTF-8."""
    for number, raw in enumerate(stream, start=1):
        hasher.update(raw)
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if raw_line_problem(raw):
            # Recorded, then removed: no database lookup of the validation pass may see a NUL.
            errors.append(RowError(number, str(raw_line_problem(raw))))
            raw = raw.replace(b"\x00", b"")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(
                RowError(number, f"not valid UTF-8 (byte {exc.start + 1}); save the file as UTF-8")
            )
            yield raw.decode("utf-8", "replace")


def csv_records(
    stream: IO[bytes], errors: list[RowError], hasher: Any
) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields), skipping blank lines. Stops at a CSV
    syntax error (recorded) because nothing after it can be trusted."""
    reader = csv.reader(_decoded_lines(stream, errors, hasher), strict=True)
    previous = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowError(reader.line_num or 1, f"malformed CSV: {exc}"))
            # Drain the rest so the hash covers the whole file.
            for _ in _decoded_lines(stream, [], hasher):
                pass
            return
        start, previous = previous + 1, reader.line_num
        if not "".join(row).strip():  # no field, or blank ones only
            continue
        yield start, row


@dataclass(frozen=True, slots=True)
class CsvHeader:
    columns: tuple[str, ...]


def csv_header(
    records: Iterator[tuple[int, list[str]]],
    errors: list[RowError],
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...],
) -> CsvHeader | None:
    first = next(records, None)
    if first is None:
        if not errors:
            errors.append(RowError(1, "the file is empty (expected a header line)"))
        return None
    line, row = first
    columns = tuple(cell.strip().lower() for cell in row)
    # Linear in the header (a 100,000-column header is refused at once, not in O(n²)).
    problem = header_problem(columns, required=required, optional=optional)
    if problem:
        errors.append(RowError(line, problem))
        return None
    return CsvHeader(columns)


_UNSTRIPPED = frozenset({"password", "email_password"})  # spaces may belong to a secret


def csv_rows(
    records: Iterator[tuple[int, list[str]]], header: CsvHeader, errors: list[RowError]
) -> Iterator[tuple[int, dict[str, str] | None]]:
    """Map each record to {column: stripped value}; None when its field count is wrong."""
    for line, row in records:
        yield line, csv_values(line, row, header, errors)


def csv_values(
    line: int, row: list[str], header: CsvHeader, errors: list[RowError]
) -> dict[str, str] | None:
    """One record as {column: stripped value}; None (and the error recorded) when its field
    count is wrong."""
    if len(row) != len(header.columns):
        errors.append(RowError(line, f"expected {len(header.columns)} field(s), found {len(row)}"))
        return None
    return {
        c: v if c in _UNSTRIPPED else v.strip() for c, v in zip(header.columns, row, strict=True)
    }


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- The record of a run ------------------------------------------------------------------------
def import_batch_create(*, kind: str, report: ImportReport, actor: Actor) -> ImportBatch:
    return ImportBatch.objects.create(
        kind=kind,
        filename=report.filename[:255],
        sha256=report.sha256,
        rows_total=report.rows_total,
        actor_id=actor_pk(actor),
    )


def import_batch_finish(batch: ImportBatch, report: ImportReport) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(
        rows_created=report.created, rows_skipped=report.skipped
    )
    report.batch_id = batch.pk
