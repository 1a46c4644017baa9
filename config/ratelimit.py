"""Fixed-window rate limits per client address, in Django's cache (shared by every app).

The cache must be shared by every web process for a limit to be global: the default local-memory
cache limits per process (fine for `make run`, one process); production sets CACHE_URL to Redis,
whose INCR is atomic. `compensation.ratelimit` (customer submissions) and the storefront's order
pushes (`orders.api`) each count in their own scope with their own rate.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str, *, setting: str = "rate") -> tuple[int, int] | None:
    """ "10/m" -> (10, 60); "5/30s" -> (5, 30); "0" or "" -> None (no limit)."""
    rate = (rate or "").strip()
    if rate in ("", "0"):
        return None
    count, _, unit = rate.partition("/")
    unit = unit.strip().lower() or "m"
    if not count.strip().isdigit() or unit[-1] not in _UNITS:
        raise ValueError(f"{setting} must look like '10/m', got {rate!r}")
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


def window_hit(request: HttpRequest, *, scope: str, rate: str, setting: str = "rate") -> bool:
    """Count one call of this client in `scope`; True when it is over `rate` (a 429)."""
    return identity_hit(client_address(request), scope=scope, rate=rate, setting=setting)


def identity_hit(identity: str, *, scope: str, rate: str, setting: str = "rate") -> bool:
    """Count one call of any caller identity (a client address, "mail:<sender>") in `scope`; True
    when it is over `rate`. Only a hash of the identity is kept in the cache."""
    parsed = parse_rate(rate, setting=setting)
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


def window_seconds(rate: str, *, setting: str = "rate") -> int:
    """The window of `rate` in seconds (the Retry-After of a 429); 60 when there is no limit."""
    parsed = parse_rate(rate, setting=setting)
    return parsed[1] if parsed else 60
