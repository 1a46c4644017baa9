"""`manage.py quality_report --by supplier|product|import_batch [--days N] [--format table|csv]`
(docs/api.md): delivered accounts, failed ones (compensation approved), failure rate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from compensation.csv_export import csv_lines
from compensation.quality import CSV_HEADER, KEYS, QualityRow, quality_report

TABLE_COLUMNS = ("key", "delivered", "failed", "failure_rate", "top_rule", "in_stock", "name")


class Command(BaseCommand):
    help = (
        "Failure rate of delivered accounts per supplier, product or import batch: delivered "
        "(sales and replacements), failed (compensation approved), failed / delivered."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--by", required=True, choices=KEYS)
        parser.add_argument(
            "--days", type=int, default=None, help="only accounts delivered in the last N days"
        )
        parser.add_argument("--format", choices=("table", "csv"), default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        rows = quality_report(by=options["by"], now=timezone.now(), days=days)
        if options["format"] == "csv":
            for line in csv_lines(CSV_HEADER, (row.csv_row() for row in rows)):
                self.stdout.write(line, ending="")
            return
        self._table(rows, by=options["by"], days=days)

    def _table(self, rows: list[QualityRow], *, by: str, days: int | None) -> None:
        cells = [
            [
                r.key,
                str(r.delivered),
                str(r.failed),
                f"{r.failure_rate:.4f}",
                f"{r.top_rule} ({r.top_rule_count})" if r.top_rule else "—",
                str(r.in_stock),
                r.name,
            ]
            for r in rows
        ]
        widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(TABLE_COLUMNS)]
        numeric = {1, 2, 3, 5}

        def line(values: list[str]) -> str:
            return "  ".join(
                v.rjust(widths[i]) if i in numeric else v.ljust(widths[i])
                for i, v in enumerate(values)
            ).rstrip()

        scope = f"delivered in the last {days} days" if days else "all deliveries"
        self.stdout.write(f"Quality by {by.replace('_', ' ')} ({scope})")
        self.stdout.write(line(list(TABLE_COLUMNS)))
        for c in cells:
            self.stdout.write(line(c))
        if not cells:
            self.stdout.write("(no delivered accounts)")
