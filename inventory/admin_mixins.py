"""Admin building blocks shared by every app's back office. Only Django is imported here, so
`orders` and `compensation` can use them without `inventory` (the lowest layer) knowing them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


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
