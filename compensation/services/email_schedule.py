"""WHEN a customer hears from us: the Notification rows of a request and their send times.

One acknowledgement per request (`request_received:<id>`), due at the end of the grace period
(`EMAIL_ACK_GRACE_SECONDS`) or at once when the request settles before that. After it, one
e-mail per change of the request as a whole: the first change opens an update row
(`request_update:<id>:next`) due a while later (staff decisions: `EMAIL_REVIEW_WINDOW_SECONDS`;
deliveries and re-check outcomes: `COALESCE_SECONDS`; "waiting for stock": `SHORT_STOCK_SECONDS`,
so a restock within the minute turns it into a delivery instead of a statement that is wrong a
moment later); every change that arrives before it is sent joins that e-mail.

What an e-mail says is composed when it is sent, from the state at that moment
(`compensation.email_compose`). The functions here take many requests at once and write with a
few set-based statements (the fulfilment drain reports thousands of batches in one call).

Concurrency: at most one unsent update row per request is guaranteed by its key (`…:next`,
unique); the upsert takes that row's lock, so a sender claiming it (which renames the key to
`request_update:<id>:<pk>`) waits for the change's transaction to commit and then sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q

from compensation import tasks
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    Notification,
    ReplacementBatch,
)
from compensation.queueing import enqueue_on_commit

ACK_KIND = "request_received"
UPDATE_KIND = "request_update"
COALESCE_SECONDS = 15
SHORT_STOCK_SECONDS = 60


class Change:
    """What happened to the requests (decides how long the update e-mail waits for more)."""

    CHECKED = "checked"  # the automatic checks finished (also after re-checks)
    REVIEWED = "reviewed"  # a member of staff decided cases
    DELIVERED = "delivered"  # replacements were delivered
    SHORT = "short"  # a replacement must wait for stock

    ALL = (CHECKED, REVIEWED, DELIVERED, SHORT)


def ack_key(request_id: uuid.UUID) -> str:
    return f"{ACK_KIND}:{request_id}"


def update_next_key(request_id: uuid.UUID) -> str:
    return f"{UPDATE_KIND}:{request_id}:next"


def _delay(change: str) -> timedelta:
    if change == Change.REVIEWED:
        return timedelta(seconds=settings.EMAIL_REVIEW_WINDOW_SECONDS)
    if change == Change.SHORT:
        return timedelta(seconds=SHORT_STOCK_SECONDS)
    return timedelta(seconds=COALESCE_SECONDS)


def _queue_on_commit(notification_ids: list[int]) -> None:
    # robust: the minute sweep sends a row whose task the broker refused.
    for notification_id in notification_ids:
        enqueue_on_commit(tasks.send_notification, notification_id, robust=True)


def acknowledgements_schedule(*, requests: Iterable[CompensationRequest], now: datetime) -> int:
    """Create the acknowledgement row of each new request, due at the end of the grace period
    (call in the transaction that creates the requests). Returns how many were created."""
    due = now + timedelta(seconds=settings.EMAIL_ACK_GRACE_SECONDS)
    rows = [
        Notification(
            key=ack_key(r.pk),
            kind=ACK_KIND,
            to=r.order.email,
            order_id=r.order_id,
            request_id=r.pk,
            send_after=due,
        )
        for r in requests
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(created)


def _settled_acks(request_ids: list[uuid.UUID], now: datetime) -> list[int]:
    """Unsent acknowledgements (not yet due) of requests that have settled: nothing is being
    checked or waits for a re-check, and every replacement was delivered (one waiting for stock
    keeps the acknowledgement until the end of the grace period: stock may still arrive)."""
    open_decision = AccountDecision.objects.filter(request_id=OuterRef("request_id")).filter(
        Q(decision__in=[Decision.PENDING, Decision.UNVERIFIED])
    )
    undelivered = ReplacementBatch.objects.filter(
        request_id=OuterRef("request_id"), state=ReplacementBatch.State.WAITING
    )
    return list(
        Notification.objects.filter(
            request_id__in=request_ids,
            kind=ACK_KIND,
            sent_at__isnull=True,
            send_after__gt=now,
        )
        .filter(~Exists(open_decision), ~Exists(undelivered))
        .values_list("id", flat=True)
    )


def _acknowledged(request_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Requests whose acknowledgement has gone out (or is being sent), and requests that have
    none (received before acknowledgements existed): their changes get update e-mails."""
    waiting_ack = set(
        Notification.objects.filter(
            request_id__in=request_ids, kind=ACK_KIND, sent_at__isnull=True
        ).values_list("request_id", flat=True)
    )
    return [r for r in request_ids if r not in waiting_ack]


def _upsert_updates(
    requests: list[tuple[uuid.UUID, int, str]], *, due: datetime, now: datetime
) -> None:
    """One unsent update row per request. An existing one keeps its time (the first change since
    the last e-mail opens the window; later ones join it) but is locked by this statement, so a
    sender claiming it waits for this transaction and then sees the change."""
    if not requests:
        return
    table = connection.ops.quote_name(Notification._meta.db_table)
    rows = []
    params: list[Any] = []
    for request_id, order_pk, email in requests:
        rows.append("(%s, %s, %s, %s, %s, %s, %s, %s, %s)")
        params += [
            update_next_key(request_id),
            UPDATE_KIND,
            email,
            order_pk,
            request_id.hex if connection.vendor != "postgresql" else request_id,
            now,
            due,
            "{}",
            False,
        ]
    sql = f"""
        INSERT INTO {table} ("key", "kind", "to", "order_id", "request_id", "created_at",
                             "send_after", "told", "skipped")
        VALUES {", ".join(rows)}
        ON CONFLICT ("key") DO UPDATE SET send_after = {table}.send_after
    """  # noqa: S608 - table name from the model, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def notifications_on_change(
    *, request_ids: Iterable[uuid.UUID], change: str, now: datetime
) -> None:
    """Report a change of these requests: send a settled acknowledgement now, or schedule the
    one update e-mail that will tell it. Call inside the transaction of the change."""
    if change not in Change.ALL:
        raise ValueError(f"unknown change {change!r}")
    ids = sorted(set(request_ids), key=str)
    if not ids:
        return
    settled = _settled_acks(ids, now)
    if settled:
        Notification.objects.filter(id__in=settled, sent_at__isnull=True).update(send_after=now)
        _queue_on_commit(settled)
    acknowledged = set(_acknowledged(ids))
    if not acknowledged:
        return
    targets = list(
        CompensationRequest.objects.filter(id__in=acknowledged)
        .order_by("id")
        .values_list("id", "order_id", "order__email")
    )
    due = now + _delay(change)
    for start in range(0, len(targets), 500):
        _upsert_updates(targets[start : start + 500], due=due, now=now)


def notifications_due(*, now: datetime, limit: int = 500) -> list[int]:
    """Unsent rows whose time has come (scheduled rows), and immediate rows whose send task
    seems lost (unsent for five minutes)."""
    return list(
        Notification.objects.filter(sent_at__isnull=True, skipped=False)
        .filter(
            Q(send_after__lte=now)
            | Q(send_after__isnull=True, created_at__lte=now - timedelta(minutes=5))
        )
        .order_by("send_after", "id")
        .values_list("id", flat=True)[:limit]
    )
