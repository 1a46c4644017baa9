from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from compensation.status import reset_status_client
from compensation.status.double import StatusDouble, profile
from compensation.status.double import status as answer


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    vendor_is_pg = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("CI") and not vendor_is_pg:
        raise pytest.UsageError("CI must run the suite on PostgreSQL (set DATABASE_URL).")
    if vendor_is_pg:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


class ProgrammableStatus:
    """Test-facing wrapper of compensation.status.double.StatusDouble (a real HTTP server)."""

    def __init__(self, double: Any) -> None:
        self.double = double

    def set_profile(
        self,
        platform: str,
        username: str,
        *,
        state: str,
        user_id: str = "",
        followers: int | None = 250,
        interactions: object = "zero",
        observed_username: str | None = None,
    ) -> None:
        counters: dict[str, int] = {}
        shown: Any = interactions
        if isinstance(interactions, dict):
            counters, shown = interactions, "zero"
        body = profile(
            platform=platform,
            username=observed_username or username,
            user_id=user_id or None,
            state=state,
            followers=followers,
            interactions=shown,
            **counters,
        )
        self.double.set(platform, username, body)

    def fail(self, platform: str, username: str, *, status: int) -> None:
        self.double.set(platform, username, answer(status))

    def __getattr__(self, name: str) -> object:
        return getattr(self.double, name)


@pytest.fixture
def status_double(settings: Any) -> Iterator[ProgrammableStatus]:
    """A real status-service double on 127.0.0.1 with the client pointed at it and short
    back-offs so failure paths stay fast."""
    with StatusDouble() as double:
        settings.STATUS_API_URL = double.url
        settings.STATUS_API_MAX_ATTEMPTS = 2
        settings.STATUS_API_BACKOFF_BASE = 0.01
        settings.STATUS_API_BREAKER_THRESHOLD = 1000
        reset_status_client()
        try:
            yield ProgrammableStatus(double)
        finally:
            reset_status_client()


@pytest.fixture
def wakes(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Record fulfilment wake-ups instead of queueing tasks."""
    import compensation.services.fulfilment as fulfilment

    calls: list[list[int]] = []
    monkeypatch.setattr(
        fulfilment, "fulfilment_wake", lambda *, product_ids: calls.append(list(product_ids))
    )
    return calls
