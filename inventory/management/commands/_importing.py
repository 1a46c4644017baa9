"""Shared body of the import commands: open the file, call the service, print the summary and
every error, exit non-zero on any error."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from inventory.import_rows import ImportReport, Progress

# Files above this size show a progress bar (on stderr).
PROGRESS_MIN_BYTES = 256 * 1024

ImportService = Callable[..., ImportReport]


class ImportCommand(BaseCommand):
    service: ImportService
    file_help = "the file to import"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help=self.file_help)
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report, write nothing"
        )
        parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        show = not options["no_progress"] and os.path.getsize(path) >= PROGRESS_MIN_BYTES

        def progress(desc: str, total: int | None) -> Progress:
            return tqdm(
                desc=desc,
                total=total,
                unit="rows",
                file=self.stderr,
                disable=not show,
                mininterval=0.5,
            )

        with path.open("rb") as source:
            report = type(self).service(
                source=source,
                filename=path.name,
                actor=None,
                now=timezone.now(),
                dry_run=options["dry_run"],
                progress=progress,
            )
        for error in report.errors:
            self.stderr.write(f"{path.name}: {error}")
        line = (
            f"{report.summary()}{f' (import batch #{report.batch_id})' if report.batch_id else ''}"
        )
        if report.errors:
            raise CommandError(line)
        self.stdout.write(self.style.SUCCESS(line))
