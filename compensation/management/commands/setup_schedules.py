"""Create or update the recurring django-q2 schedules of compensation/schedules.py, by name.

`Schedule.name` is not unique in django-q2, so this is an upsert by name: the oldest row of a
name is updated, any duplicates are deleted. Running it twice changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django_q.models import Schedule

from compensation.schedules import SCHEDULES


def schedules_upsert() -> tuple[int, int, int]:
    """(created, updated, duplicates deleted)."""
    created = updated = deleted = 0
    with transaction.atomic():
        for spec in SCHEDULES:
            wanted = {
                "func": spec["func"],
                "schedule_type": Schedule.MINUTES,
                "minutes": spec["minutes"],
                "repeats": -1,
            }
            rows = list(
                Schedule.objects.select_for_update().filter(name=spec["name"]).order_by("id")
            )
            if not rows:
                Schedule.objects.create(name=spec["name"], **wanted)
                created += 1
                continue
            keep, duplicates = rows[0], rows[1:]
            if duplicates:
                deleted += Schedule.objects.filter(pk__in=[d.pk for d in duplicates]).delete()[0]
            if any(getattr(keep, field) != value for field, value in wanted.items()):
                Schedule.objects.filter(pk=keep.pk).update(**wanted)
                updated += 1
    return created, updated, deleted


class Command(BaseCommand):
    help = "Create or update the recurring task schedules (idempotent, by name)."

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated, deleted = schedules_upsert()
        self.stdout.write(
            self.style.SUCCESS(
                f"schedules: {created} created, {updated} updated, {deleted} duplicate(s) removed, "
                f"{len(SCHEDULES)} in total"
            )
        )
