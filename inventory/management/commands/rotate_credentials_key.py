from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inventory.services import credentials_rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every account's credentials under the first key of "
        "CREDENTIALS_ENCRYPTION_KEYS (put the new key first, run this, then drop the old key)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        count = credentials_rotate_all(batch_size=max(1, options["batch_size"]))
        self.stdout.write(self.style.SUCCESS(f"re-encrypted the credentials of {count} account(s)"))
