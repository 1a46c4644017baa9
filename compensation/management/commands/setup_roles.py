"""`manage.py setup_roles`: create/update the staff groups (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from compensation.services.roles import roles_ensure


class Command(BaseCommand):
    help = "Create or update the 'Support agents' and 'Managers' groups and their permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, count in roles_ensure().items():
            self.stdout.write(f"{name}: {count} permissions")
