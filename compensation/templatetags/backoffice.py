"""Template tags of the back office (the admin home's work summary)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.utils import timezone

from compensation.admin.display import age_display
from compensation.dashboard import work_summary

register = template.Library()


@register.filter
def age(delta: timedelta | None) -> str:
    """A waiting time as staff read it: "2d 3h", "4h 10m", "7m"."""
    return age_display(delta)


@register.inclusion_tag("admin/_work_summary.html", takes_context=True)
def work_summary_panel(context: dict[str, Any]) -> dict[str, Any]:
    """Counts for what the user may see: agents and managers see the queues; the quality report
    link needs the stock permission."""
    user = context["request"].user
    can_see = user.has_perm("compensation.view_accountdecision")
    return {
        "summary": work_summary(now=timezone.now()) if can_see else None,
        "can_see_batches": user.has_perm("compensation.view_replacementbatch"),
        "can_see_quality": user.has_perm("inventory.view_account"),
    }
