"""Dates on customer pages and in e-mails, in the one format of `customer_messages`."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.safestring import SafeString

from compensation import customer_messages as words

register = template.Library()


@register.filter
def moment(value: datetime | None) -> SafeString | str:
    """`<time>` with "27 November 2026, 14:05 UTC" (site.js may show it in local time)."""
    return words.time_html(value) if value else ""


@register.filter
def day(value: datetime | None) -> SafeString | str:
    """`<time>` with "27 November 2026"."""
    return words.time_html(value, day_only=True) if value else ""


@register.filter
def moment_text(value: datetime | None) -> str:
    return words.format_moment(value) if value else ""


@register.filter
def day_text(value: datetime | None) -> str:
    return words.format_day(value) if value else ""
