"""Admin building blocks shared by every app's back office. Only Django is imported here, so
`orders` and `compensation` can use them without `inventory` (the lowest layer) knowing them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import formats, timezone


class ReadOnlyAdminMixin:
    """Viewable, never added, changed or deleted through the admin: the rows are written by
    services (imports, events, decisions). For a ModelAdmin or an inline (`obj` is optional
    because inlines pass it to `has_add_permission` and model admins do not)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def when_display(moment: datetime | None) -> str:
    """A date and time as the admin shows them everywhere (its DATETIME_FORMAT, in the current
    time zone), so custom columns and pages never add a second format."""
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
