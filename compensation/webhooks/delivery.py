"""Sending the outbox from the task cluster (docs/storefront.md).

- A delivery is claimed in a short transaction (row lock, then a lease in `sending_until`), the
  POST happens with no transaction open, and the outcome is stored with a compare-and-set on the
  lease, with one `WebhookAttempt` row per POST. A worker killed mid-send leaves a lease that runs
  out, and the sweep sends the delivery again (at least once; receivers dedupe by id).
- In order per request: a delivery is not sent while an earlier delivery of the same request to
  the same endpoint is still pending; when one is delivered (or given up) the next is queued.
- Back-off on any non-2xx or network error: RETRY_DELAYS, about 28 hours in all; after the last
  one the delivery is given up ("failed", staff can send it again) — unless the endpoint is
  paused, which keeps everything queued.
- An endpoint without a success for longer than WEBHOOK_PAUSE_AFTER is paused until a manager
  resumes it. While an endpoint is failing, only the sweep sends to it, one delivery at a time
  (a probe), so a dead receiver costs one timeout per sweep, not one per event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q

from compensation.models_webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from compensation.queueing import enqueue_on_commit
from compensation.webhooks import tasks
from compensation.webhooks.client import PostResult, get_webhook_client
from compensation.webhooks.endpoints import secret_open
from compensation.webhooks.events import (
    webhook_delivery_failed_event,
    webhook_endpoint_paused_event,
)

# Seconds to wait after the 1st, 2nd, … failed attempt: 1 min up to 12 h, 27.9 h in all.
RETRY_DELAYS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200)
# A lease outlives the slowest possible attempt by this much.
LEASE_MARGIN = 30
SWEEP_LIMIT = 500

Pending = WebhookDelivery.State.PENDING


def _pause_after() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_PAUSE_AFTER)


def _earlier_pending() -> Exists:
    return Exists(
        WebhookDelivery.objects.filter(
            endpoint_id=OuterRef("endpoint_id"),
            request_id=OuterRef("request_id"),
            state=Pending,
            id__lt=OuterRef("id"),
        )
    )


def _claim(
    *, delivery_id: int, now: datetime, probe: bool
) -> tuple[WebhookDelivery, datetime, str] | str:
    with transaction.atomic():
        row = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if row is None:
            return "busy"
        if row.state != Pending:
            return "done"
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return "not_due"
        if row.sending_until is not None and row.sending_until > now:
            return "in_flight"
        endpoint = row.endpoint
        if not endpoint.active or endpoint.paused_at is not None:
            return "held"
        if endpoint.failing_since is not None and not probe:
            return "held_failing"  # the sweep probes it
        if WebhookDelivery.objects.filter(
            endpoint_id=row.endpoint_id, request_id=row.request_id, state=Pending, id__lt=row.id
        ).exists():
            return "blocked"
        lease = now + timedelta(seconds=settings.WEBHOOK_DEADLINE + LEASE_MARGIN)
        WebhookDelivery.objects.filter(pk=row.pk).update(sending_until=lease)
        return row, lease, secret_open(endpoint.secret_sealed)


def webhook_delivery_send(*, delivery_id: int, now: datetime, probe: bool = False) -> str:
    """Send one delivery if it is due and nothing before it waits. Returns what happened:
    "delivered", "retry", "failed" (given up), or why nothing was sent ("blocked", "held", …)."""
    claimed = _claim(delivery_id=delivery_id, now=now, probe=probe)
    if isinstance(claimed, str):
        return claimed
    row, lease, secret = claimed
    result = get_webhook_client().post(
        url=row.endpoint.url, event_id=str(row.event_id), body=row.body.encode(), secret=secret
    )
    return _outcome_store(row=row, lease=lease, result=result, now=now)


def _queue_next_in_chain(row: WebhookDelivery) -> None:
    following = (
        WebhookDelivery.objects.filter(
            endpoint_id=row.endpoint_id, request_id=row.request_id, state=Pending, id__gt=row.id
        )
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if following is not None:
        # Sent even while the endpoint is failing (then it is that endpoint's one probe).
        enqueue_on_commit(tasks.webhook_send, following, True)


def _outcome_store(
    *, row: WebhookDelivery, lease: datetime, result: PostResult, now: datetime
) -> str:
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=row.endpoint_id).first()
        if endpoint is None:
            return "gone"  # deleted while the POST was in flight (its deliveries with it)
        WebhookAttempt.objects.create(
            delivery_id=row.pk,
            at=now,
            status_code=result.status_code,
            error=result.error,
            response_excerpt=result.excerpt,
            duration_ms=result.duration_ms,
        )
        mine = WebhookDelivery.objects.filter(pk=row.pk, state=Pending, sending_until=lease)
        if result.ok:
            mine.update(
                state=WebhookDelivery.State.DELIVERED,
                delivered_at=now,
                attempts=F("attempts") + 1,
                next_attempt_at=None,
                sending_until=None,
                last_status_code=result.status_code,
                last_error="",
            )
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                last_success_at=now, failing_since=None
            )
            _queue_next_in_chain(row)
            return "delivered"

        failing_since = endpoint.failing_since or now
        paused = endpoint.paused_at is not None
        if not paused and now - failing_since > _pause_after():
            _endpoint_pause(endpoint=endpoint, failing_since=failing_since, now=now)
            paused = True
        else:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=failing_since)
        step = row.backoff_step
        common = {
            "attempts": F("attempts") + 1,
            "sending_until": None,
            "last_status_code": result.status_code,
            "last_error": result.error or f"HTTP {result.status_code}",
        }
        if step >= len(RETRY_DELAYS) and not paused:
            mine.update(state=WebhookDelivery.State.FAILED, next_attempt_at=None, **common)
            webhook_delivery_failed_event(
                delivery=row, endpoint=endpoint, attempts=row.attempts + 1, now=now
            )
            _queue_next_in_chain(row)
            return "failed"
        delay = RETRY_DELAYS[min(step, len(RETRY_DELAYS) - 1)]
        mine.update(
            next_attempt_at=now + timedelta(seconds=delay),
            backoff_step=min(step + 1, len(RETRY_DELAYS)),
            **common,
        )
        return "retry"


def _endpoint_pause(*, endpoint: WebhookEndpoint, failing_since: datetime, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk, paused_at__isnull=True).update(
        paused_at=now, failing_since=failing_since
    )
    webhook_endpoint_paused_event(endpoint=endpoint, failing_since=failing_since, now=now)


def webhook_endpoints_pause_overdue(*, now: datetime) -> int:
    """Pause every endpoint failing without a success for longer than WEBHOOK_PAUSE_AFTER."""
    paused = 0
    with transaction.atomic():
        overdue = WebhookEndpoint.objects.select_for_update().filter(
            paused_at__isnull=True, failing_since__lt=now - _pause_after()
        )
        for endpoint in overdue.order_by("id"):
            assert endpoint.failing_since is not None
            _endpoint_pause(endpoint=endpoint, failing_since=endpoint.failing_since, now=now)
            paused += 1
    return paused


def webhooks_sweep(*, now: datetime) -> int:
    """Schedule: pause endpoints failing too long, then queue every due delivery that is first
    in its request's order (only one per failing endpoint: a probe). Returns how many."""
    webhook_endpoints_pause_overdue(now=now)
    heads = list(
        WebhookDelivery.objects.filter(
            state=Pending,
            next_attempt_at__lte=now,
            endpoint__active=True,
            endpoint__paused_at__isnull=True,
        )
        .filter(Q(sending_until__isnull=True) | Q(sending_until__lte=now))
        .exclude(_earlier_pending())
        .order_by("id")  # oldest first, whatever the endpoint
        .values_list("id", "endpoint_id", "endpoint__failing_since")[:SWEEP_LIMIT]
    )
    probed: set[int] = set()
    queued = 0
    for delivery_id, endpoint_id, failing_since in heads:
        failing = failing_since is not None
        if failing:
            if endpoint_id in probed:
                continue
            probed.add(endpoint_id)
        enqueue_on_commit(tasks.webhook_send, delivery_id, failing)
        queued += 1
    return queued
