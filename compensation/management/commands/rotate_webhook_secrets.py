from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from compensation.webhooks.endpoints import webhook_secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every webhook endpoint secret under the first key of "
        "CREDENTIALS_ENCRYPTION_KEYS (run it with rotate_credentials_key, before dropping the "
        "old key)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = webhook_secrets_rotate()
        self.stdout.write(self.style.SUCCESS(f"re-encrypted the secrets of {count} endpoint(s)"))
