"""Submission rate limit shared by the JSON API, the web form and e-mail intake
(COMPENSATION_RATE_LIMIT).

A fixed-window counter per caller (see `config.ratelimit`, which the storefront's order pushes use
too, in their own scope): the client address for the web, "mail:<sender address>" for e-mail.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from config import ratelimit
from config.ratelimit import client_address

__all__ = ["client_address", "parse_rate", "rate_limit_hit", "rate_limit_hit_for"]


def parse_rate(rate: str) -> tuple[int, int] | None:
    """ "10/m" -> (10, 60); "0" or "" -> None (no limit)."""
    return ratelimit.parse_rate(rate, setting="COMPENSATION_RATE_LIMIT")


def rate_limit_hit(request: HttpRequest, *, scope: str = "compensation-submit") -> bool:
    """Count one submission; True when the caller is over the limit (and must get a 429)."""
    return rate_limit_hit_for(client_address(request), scope=scope)


def rate_limit_hit_for(identity: str, *, scope: str = "compensation-submit") -> bool:
    """The same limit for any caller identity (e-mail intake passes "mail:<sender address>")."""
    return ratelimit.identity_hit(
        identity,
        scope=scope,
        rate=settings.COMPENSATION_RATE_LIMIT,
        setting="COMPENSATION_RATE_LIMIT",
    )
