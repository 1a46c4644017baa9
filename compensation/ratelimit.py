"""Submission rate limit shared by the JSON API and the web form (COMPENSATION_RATE_LIMIT).

A fixed-window counter per client address (see `config.ratelimit`, which the storefront's order
pushes use too, in their own scope).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from config import ratelimit
from config.ratelimit import client_address, client_key

__all__ = ["client_address", "client_key", "parse_rate", "rate_limit_hit"]


def parse_rate(rate: str) -> tuple[int, int] | None:
    """ "10/m" -> (10, 60); "0" or "" -> None (no limit)."""
    return ratelimit.parse_rate(rate, setting="COMPENSATION_RATE_LIMIT")


def rate_limit_hit(request: HttpRequest, *, scope: str = "compensation-submit") -> bool:
    """Count one submission; True when the caller is over the limit (and must get a 429)."""
    return ratelimit.window_hit(
        request,
        scope=scope,
        rate=settings.COMPENSATION_RATE_LIMIT,
        setting="COMPENSATION_RATE_LIMIT",
    )
