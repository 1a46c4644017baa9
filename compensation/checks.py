"""System checks (`manage.py check`, run by migrate and the deploy check)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from compensation.ratelimit import parse_rate

# Caches that count per process (locmem), not at all (dummy), or without an atomic increment
# across processes (file): with several web workers the limit would be multiplied or lost.
PER_PROCESS_CACHES = frozenset(
    {
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
        "django.core.cache.backends.filebased.FileBasedCache",
    }
)


@register("security")
def rate_limit_cache_is_shared(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not settings.RATE_LIMIT_REQUIRE_SHARED_CACHE:
        return []
    if parse_rate(settings.COMPENSATION_RATE_LIMIT) is None:
        return []  # no limit, nothing to share
    backend = settings.CACHES["default"]["BACKEND"]
    if backend not in PER_PROCESS_CACHES:
        return []
    return [
        Error(
            f"The submission rate limit counts in {backend.rsplit('.', 1)[-1]}, which is not "
            "shared between processes: with N web workers a client gets N times the limit.",
            hint="Set CACHE_URL to a shared cache, e.g. rediscache://127.0.0.1:6379/1.",
            id="compensation.E001",
        )
    ]
