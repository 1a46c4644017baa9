"""The circuit breaker in front of the status service, shared by every process.

Its state is the `compensation.StatusServiceBreaker` row. The client reads it once before a
batch and records the outcome after it (at most a couple of cheap writes: an F() increment on
failures, a reset when a success follows failures), always in the calling thread. Within a batch
`BatchTrip` stops calling once the threshold is reached, without touching the database.
Call it outside any transaction that holds row locks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from compensation.models import StatusServiceBreaker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BreakerState:
    open: bool
    consecutive_failures: int


class Breaker(Protocol):
    threshold: int | None

    def state(self) -> BreakerState: ...

    def record(
        self, *, before: BreakerState, success_seen: bool, trailing_failures: int
    ) -> None: ...


class NullBreaker:
    """Never opens (unit tests, tools)."""

    threshold: int | None = None

    def state(self) -> BreakerState:
        return BreakerState(open=False, consecutive_failures=0)

    def record(self, *, before: BreakerState, success_seen: bool, trailing_failures: int) -> None:
        return None


class DbBreaker:
    """Breaker state in the `StatusServiceBreaker` row `name`, shared by all processes.

    Opens for `cooldown` seconds once `threshold` consecutive fetches failed; after the cooldown
    calls go through again (half-open): one more failure re-opens it, a success closes it.
    """

    def __init__(
        self,
        *,
        name: str = "status",
        threshold: int,
        cooldown: float,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = name
        self.threshold: int | None = max(1, int(threshold))
        self.cooldown = float(cooldown)
        self.clock = clock or timezone.now

    def _rows(self) -> QuerySet[StatusServiceBreaker]:
        return StatusServiceBreaker.objects.filter(name=self.name)

    def state(self) -> BreakerState:
        row = self._rows().values_list("consecutive_failures", "open_until").first()
        if row is None:
            return BreakerState(open=False, consecutive_failures=0)
        failures, open_until = row
        return BreakerState(
            open=open_until is not None and open_until > self.clock(), consecutive_failures=failures
        )

    def record(self, *, before: BreakerState, success_seen: bool, trailing_failures: int) -> None:
        now = self.clock()
        assert self.threshold is not None
        opens = now + timedelta(seconds=self.cooldown)
        if success_seen:
            if trailing_failures == 0 and before.consecutive_failures == 0:
                return  # closed and stays closed: no write
            self._rows().update(
                consecutive_failures=trailing_failures,
                open_until=opens if trailing_failures >= self.threshold else None,
            )
            return
        if trailing_failures <= 0:
            return
        if not self._rows().update(
            consecutive_failures=F("consecutive_failures") + trailing_failures
        ):
            try:
                with transaction.atomic():
                    StatusServiceBreaker.objects.create(
                        name=self.name, consecutive_failures=trailing_failures
                    )
            except IntegrityError:
                self._rows().update(
                    consecutive_failures=F("consecutive_failures") + trailing_failures
                )
        tripped = (
            self._rows()
            .filter(consecutive_failures__gte=self.threshold)
            .filter(Q(open_until__isnull=True) | Q(open_until__lte=now))
            .update(open_until=opens)
        )
        if tripped:
            logger.warning("status service circuit opened for %.0f s", self.cooldown)


class BatchTrip:
    """In-memory view of the breaker during one batch (thread-safe)."""

    def __init__(self, before: BreakerState, threshold: int | None) -> None:
        self.lock = threading.Lock()
        self.threshold = threshold
        self.consecutive = before.consecutive_failures
        self.trailing = 0
        self.success_seen = False
        self.tripped = before.open

    def allows(self) -> bool:
        with self.lock:
            return not self.tripped

    def outcome(self, error: str | None) -> None:
        """Count one fetch's result (`error` None: success); calls the breaker itself refused
        (`circuit_open`) do not count."""
        if error == "circuit_open":
            return
        with self.lock:
            if error is None:
                self.success_seen = True
                self.consecutive = 0
                self.trailing = 0
                return
            self.consecutive += 1
            self.trailing += 1
            if self.threshold is not None and self.consecutive >= self.threshold:
                self.tripped = True
