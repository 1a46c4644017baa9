from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from compensation.demo import demo_admin_ensure, demo_is_loaded, demo_load

LOGIN_URL = "http://127.0.0.1:8000/admin/"


class Command(BaseCommand):
    help = (
        "Load a demo shop (products on several platforms, stock with baselines and suppliers, "
        "orders 2-40 days old) and write var/demo_profiles.json for demo_status_server."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when any product exists already"
        )
        parser.add_argument(
            "--profiles", default=None, help="profiles file (default var/demo_profiles.json)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = demo_admin_ensure()
        if options["if_empty"] and demo_is_loaded():
            self.stdout.write("Products exist already: demo data not loaded.")
        else:
            summary = demo_load(
                now=timezone.now(),
                profiles_path=Path(options["profiles"]) if options["profiles"] else None,
            )
            for report in summary.reports:
                self.stdout.write(report.summary())
            self.stdout.write(
                f"Wrote {summary.profiles} demo profiles to {summary.profiles_path} "
                "(served by `manage.py demo_status_server`)."
            )
            self.stdout.write("\nTry the compensation form with these orders:")
            for order in summary.orders:
                self.stdout.write(
                    f"  {order['order_id']}  {order['email']}  "
                    f"(placed {order['days_ago']} days ago)"
                )
                for sku, username, expect in order["accounts"]:
                    self.stdout.write(f"      {sku:<11} {username:<24} {expect}")
        if password:
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nCreated the superuser. Log in at {LOGIN_URL}\n"
                    f"    username: admin\n    password: {password}\n"
                    "(shown once; change it with `manage.py changepassword admin`)"
                )
            )
        else:
            self.stdout.write(f"\nAdmin: {LOGIN_URL} (log in with your existing staff user)")
