"""`manage.py webhook_endpoint_add URL --secret SECRET [--events a,b]` (docs/storefront.md).

Idempotent by URL: creates the endpoint, or brings the one with this URL to the given secret and
events (default: every event); the same call twice changes nothing. The secret is never printed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from compensation.webhooks.endpoints import EndpointInvalid, webhook_endpoint_upsert


class Command(BaseCommand):
    help = "Add a webhook endpoint, or update the one with this URL (idempotent by URL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url")
        parser.add_argument("--secret", required=True, help="at least 16 characters")
        parser.add_argument(
            "--events",
            default="",
            help="comma-separated event types (default: every event)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        events = [e for e in options["events"].split(",") if e.strip()]
        try:
            saved = webhook_endpoint_upsert(
                url=options["url"],
                secret=options["secret"],
                events=events,
                actor=None,
                now=timezone.now(),
            )
        except EndpointInvalid as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"webhook endpoint {saved.endpoint.url}: {saved.outcome} "
                f"(events: {', '.join(saved.endpoint.events)})"
            )
        )
