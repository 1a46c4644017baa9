"""Submission rate limit shared by the JSON API and the web form (COMPENSATION_RATE_LIMIT).

A fixed-window counter in Django's cache, keyed by client address. The cache must be shared by
every web process for the limit to be global: the default local-memory cache limits per process
(fine for `make run`, one process); production sets CACHE_URL to Redis, whose INCR is atomic.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int] | None:
    """ "10/m" -> (10, 60); "0" or "" -> None (no limit)."""
    rate = (rate or "").strip()
    if rate in ("", "0"):
        return None
    count, _, unit = rate.partition("/")
    unit = unit.strip().lower() or "m"
    if not count.strip().isdigit() or unit[-1] not in _UNITS:
        raise ValueError(f"COMPENSATION_RATE_LIMIT must look like '10/m', got {rate!r}")
    multiplier = int(unit[:-1]) if unit[:-1].isdigit() else 1
    limit = int(count)
    return (limit, _UNITS[unit[-1]] * multiplier) if limit > 0 else None


def client_address(request: HttpRequest) -> str:
    """The caller's address. Behind N trusted reverse proxies (RATE_LIMIT_TRUSTED_PROXIES=N) it is
    the N-th address from the right of X-Forwarded-For — the one our own first proxy saw;
    anything further left is supplied by the client and cannot be trusted."""
    proxies = settings.RATE_LIMIT_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def rate_limit_hit(request: HttpRequest, *, scope: str = "compensation-submit") -> bool:
    """Count one submission; True when the caller is over the limit (and must get a 429)."""
    return rate_limit_hit_for(client_address(request), scope=scope)


def rate_limit_hit_for(identity: str, *, scope: str = "compensation-submit") -> bool:
    """The same limit for any caller identity: the client address for the web form and the API,
    "mail:<sender address>" for e-mail intake. Only a hash of it is kept in the cache."""
    parsed = parse_rate(settings.COMPENSATION_RATE_LIMIT)
    if parsed is None:
        return False
    limit, window = parsed
    bucket = int(time.time() // window)
    key = f"rl:{scope}:{hashlib.sha256(identity.encode()).hexdigest()[:32]}:{bucket}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        count = 1
    return count > limit
