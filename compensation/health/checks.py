"""The checks behind /healthz (and the health gauges of /metrics).

Cheap by construction: `SELECT 1`, a Redis PING with one-second timeouts, one row by key (the
heartbeat, the breaker) and one index-ordered `LIMIT 1` (the oldest case in the review queue,
index `decision_queue_idx`). No counts, no secrets, no host names: ages in whole seconds and
states only.

Critical checks (a failure answers 503): the database, the task broker, the task cluster's
heartbeat. The status-service breaker and the review queue are reported, never fatal: a web node
keeps serving while the status service is down (accounts become `unverified` and are re-checked),
and a long queue is a staffing matter, not a broken machine.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from compensation.health.heartbeat import heartbeat_last
from compensation.models import AccountDecision, Decision, StatusServiceBreaker

logger = logging.getLogger(__name__)

BREAKER_NAME = "status"  # the row the status client's DbBreaker uses
REDIS_TIMEOUT = 1.0


@dataclass
class Report:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    failing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failing

    def add(self, name: str, ok: bool | None, *, critical: bool, **detail: Any) -> None:
        self.checks[name] = {"ok": ok, **detail}
        if critical and ok is False:
            self.failing.append(name)

    def body(self) -> dict[str, Any]:
        if self.ok:
            return {"status": "ok", "checks": self.checks}
        return {"status": "failing", "failing": self.failing, "checks": self.checks}


# --- the broker's Redis, with short timeouts (django-q's own client has none) --------------------

_redis_lock = threading.Lock()
_redis_clients: dict[str, redis.Redis] = {}


def broker_redis() -> redis.Redis | None:
    url = settings.REDIS_URL
    if not url:
        return None
    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
            )
            _redis_clients[url] = client
        return client


# --- the checks ---------------------------------------------------------------------------------


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception as exc:
        logger.warning("health: database unreachable (%s)", type(exc).__name__)
        return False


def _broker_ok(database_ok: bool) -> tuple[bool, str]:
    client = broker_redis()
    if client is None:
        return database_ok, "database"  # the ORM broker lives in the database
    try:
        return bool(client.ping()), "redis"
    except Exception as exc:
        logger.warning("health: task broker unreachable (%s)", type(exc).__name__)
        return False, "redis"


def _age(now: datetime, then: datetime | None) -> int | None:
    return None if then is None else max(0, int((now - then).total_seconds()))


def breaker_state(now: datetime) -> str:
    row = (
        StatusServiceBreaker.objects.filter(name=BREAKER_NAME)
        .values_list("consecutive_failures", "open_until")
        .first()
    )
    if row is None:
        return "closed"
    failures, open_until = row
    if open_until is not None and open_until > now:
        return "open"
    if failures >= settings.STATUS_API_BREAKER_THRESHOLD:
        return "half_open"  # cooldown over: the next call decides
    return "closed"


def oldest_review_case(now: datetime) -> int | None:
    oldest = (
        AccountDecision.objects.filter(
            decision=Decision.MANUAL_REVIEW, review_requested_at__isnull=False
        )
        .order_by("review_requested_at")
        .values_list("review_requested_at", flat=True)
        .first()
    )
    return _age(now, oldest)


def run_checks(*, now: datetime, scope: str = "all") -> Report:
    """`scope="web"`: only what a web node needs to serve (database, broker), for a load
    balancer that should not take every web node out because the task cluster is down."""
    report = Report()
    database_ok = _database_ok()
    report.add("database", database_ok, critical=True)
    broker_ok, kind = _broker_ok(database_ok)
    report.add("broker", broker_ok, critical=True, kind=kind)
    if scope == "web":
        return report

    max_age = settings.HEALTH_CLUSTER_MAX_AGE
    if not database_ok:
        # Everything below is read from the database: unknown, not failed on its own.
        for name in ("cluster", "status_service", "review_queue"):
            report.add(name, None, critical=False, skipped="database unreachable")
        return report
    last_seen = _age(now, heartbeat_last())
    report.add(
        "cluster",
        last_seen is not None and last_seen <= max_age,
        critical=True,
        last_seen_seconds=last_seen,
        max_age_seconds=max_age,
    )
    state = breaker_state(now)
    report.add("status_service", state == "closed", critical=False, breaker=state)
    report.add("review_queue", True, critical=False, oldest_waiting_seconds=oldest_review_case(now))
    return report
