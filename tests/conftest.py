from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from compensation.status import reset_status_client
from compensation.status.double import StatusDouble, profile
from compensation.status.double import status as answer
from inventory.signals import stock_arrived


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:

    vendor_is_pg = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    # CI runs the suite on PostgreSQL, then once more on SQLite on purpose (CI_SQLITE_PASS).
    if os.environ.get("CI") and not vendor_is_pg and not os.environ.get("CI_SQLITE_PASS"):
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
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Record the tasks services queue after commit (dotted path, arguments) instead of queueing
    them: `compensation.queueing` is the one place tasks leave the process."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        "compensation.queueing.async_task", lambda path, *args, **kw: calls.append((path, args))
    )
    return calls


@pytest.fixture
def wakes(queued: list[tuple[str, tuple[Any, ...]]]) -> Iterator[list[list[int]]]:
    """Record the stock arrivals inventory announces (`inventory.signals.stock_arrived`, which
    wakes fulfilment); nothing is queued."""
    calls: list[list[int]] = []

    def record(sender: Any, *, product_ids: list[int], **kwargs: Any) -> None:
        calls.append(list(product_ids))

    stock_arrived.connect(record, dispatch_uid="tests.wakes")
    try:
        yield calls
    finally:
        stock_arrived.disconnect(dispatch_uid="tests.wakes")
