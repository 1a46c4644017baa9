from __future__ import annotations

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from compensation.schedules import SCHEDULES

pytestmark = pytest.mark.django_db


def rows() -> list[tuple[int, str | None, str | None, str | None, int | None, int]]:
    return list(
        Schedule.objects.order_by("id").values_list(
            "id", "name", "func", "schedule_type", "minutes", "repeats"
        )
    )


def test_setup_schedules_twice_gives_the_same_rows() -> None:
    call_command("setup_schedules")
    first = rows()
    call_command("setup_schedules")

    assert rows() == first
    assert sorted((r[1], r[2], r[3], r[4], r[5]) for r in first) == sorted(
        (s["name"], s["func"], Schedule.MINUTES, s["minutes"], -1) for s in SCHEDULES
    )


def test_setup_schedules_updates_by_name_and_removes_duplicates() -> None:
    spec = SCHEDULES[0]
    stale = Schedule.objects.create(
        name=spec["name"], func="old.func", schedule_type=Schedule.HOURLY
    )
    Schedule.objects.create(name=spec["name"], func="old.func")
    unrelated = Schedule.objects.create(name="someone-else", func="x.y")

    call_command("setup_schedules")

    mine = Schedule.objects.filter(name=spec["name"])
    assert list(mine.values_list("id", "func", "schedule_type", "minutes")) == [
        (stale.pk, spec["func"], Schedule.MINUTES, spec["minutes"])
    ]
    assert Schedule.objects.filter(pk=unrelated.pk).exists()
    assert Schedule.objects.count() == len(SCHEDULES) + 1
