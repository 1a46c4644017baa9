"""WHEN a customer hears from us: the Notification rows of a request and their due times.

One acknowledgement per request (`request_received:<id>`), due at the end of the grace period
(`EMAIL_ACK_GRACE_SECONDS`) or at once when the request settles before that. After it, one
e-mail per change of the request as a whole: the first change opens an update row (kind
`request_update`) due a while later (staff decisions: `EMAIL_REVIEW_WINDOW_SECONDS`; deliveries
and re-check outcomes: `COALESCE_SECONDS`; "waiting for stock": `SHORT_STOCK_SECONDS`, so a
restock within the minute turns it into a delivery instead of a statement that is wrong a moment
later); every change that arrives before it is sent joins that e-mail.

The due time is the outbox's `Notification.next_attempt_at` ("not before"), which every sender
respects (`services.outbox`). What an e-mail says is composed when it is sent, from the state at
that moment (`compensation.email_compose`). The functions here take many requests at once and
write with a few set-based statements (the fulfilment drain reports thousands of batches in one
call).

Concurrency: a request has at most one *open* update row — queued and never claimed — by a
partial unique constraint (`one_open_update_per_request`). A change upserts into it, taking its
row lock, so an outbox claim (queued -> sending, which closes the row) waits for the change's
transaction and then composes with the change in view; a change that comes after the claim opens
the next row.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q

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
# E-mails one send task takes, over one connection to the mail server (`outbox`).
SEND_BATCH = 50


class Change:
    """What happened to the requests (decides how long the update e-mail waits for more)."""

    CHECKED = "checked"  # the automatic checks finished (also after re-checks)
    REVIEWED = "reviewed"  # a member of staff decided cases
    DELIVERED = "delivered"  # replacements were delivered
    SHORT = "short"  # a replacement must wait for stock

    ALL = (CHECKED, REVIEWED, DELIVERED, SHORT)


def ack_key(request_id: uuid.UUID) -> str:
    return f"{ACK_KIND}:{request_id}"


def update_key(request_id: uuid.UUID) -> str:
    """A fresh key for an update row (the open row per request is found by the constraint)."""
    return f"{UPDATE_KIND}:{request_id}:{secrets.token_hex(8)}"


def _delay(change: str) -> timedelta:
    if change == Change.REVIEWED:
        return timedelta(seconds=settings.EMAIL_REVIEW_WINDOW_SECONDS)
    if change == Change.SHORT:
        return timedelta(seconds=SHORT_STOCK_SECONDS)
    return timedelta(seconds=COALESCE_SECONDS)


def notifications_queue_send(notification_ids: Sequence[int], *, robust: bool = False) -> None:
    """Queue the sending of these rows after commit: one task per `SEND_BATCH` of them (the
    outbox sends a task's rows over one connection to the mail server)."""
    ids = sorted(notification_ids)
    for start in range(0, len(ids), SEND_BATCH):
        enqueue_on_commit(tasks.send_notifications, ids[start : start + SEND_BATCH], robust=robust)


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
            next_attempt_at=due,
        )
        for r in requests
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(created)


def _open(kind: str) -> Q:
    """Rows of this kind that no sender has claimed yet: still open to change."""
    return Q(kind=kind, state=Notification.State.QUEUED, attempts=0)


def _open_acks(request_ids: list[uuid.UUID], now: datetime) -> list[tuple[int, uuid.UUID, bool]]:
    """The unclaimed acknowledgements of these requests: (row id, request id, settled). Settled:
    not yet due, and the request has settled: nothing is being checked or waits for a re-check,
    and every replacement was delivered (one waiting for stock keeps the acknowledgement until
    the end of the grace period: stock may still arrive).

    Hand-written, one statement per 500 requests: it runs in every request's decision, and
    Django takes longer to compile the ORM form (two correlated EXISTS) than the database takes
    to run it."""
    quote = connection.ops.quote_name
    notes, decisions = quote(Notification._meta.db_table), quote(AccountDecision._meta.db_table)
    batches = quote(ReplacementBatch._meta.db_table)
    request_pk = CompensationRequest._meta.pk
    assert request_pk is not None
    rows: list[tuple[int, uuid.UUID, bool]] = []
    for start in range(0, len(request_ids), 500):
        chunk = request_ids[start : start + 500]
        sql = f"""
            SELECT n.id, n.request_id,
                   (n.next_attempt_at > %s
                    AND NOT EXISTS (SELECT 1 FROM {decisions} d
                                     WHERE d.request_id = n.request_id AND d.decision IN (%s, %s))
                    AND NOT EXISTS (SELECT 1 FROM {batches} b
                                     WHERE b.request_id = n.request_id AND b.state = %s))
              FROM {notes} n
             WHERE n.kind = %s AND n.state = %s AND n.attempts = 0
               AND n.request_id IN ({", ".join(["%s"] * len(chunk))})
        """  # noqa: S608 - names from the models, values are parameters
        params = [
            connection.ops.adapt_datetimefield_value(now),
            Decision.PENDING,
            Decision.UNVERIFIED,
            ReplacementBatch.State.WAITING,
            ACK_KIND,
            Notification.State.QUEUED,
            *(request_pk.get_db_prep_value(r, connection) for r in chunk),
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows += [
                (
                    pk,
                    request_id if isinstance(request_id, uuid.UUID) else uuid.UUID(request_id),
                    bool(settled),
                )
                for pk, request_id, settled in cursor.fetchall()
            ]
    return rows


def _upsert_updates(
    requests: list[tuple[uuid.UUID, int, str]], *, due: datetime, now: datetime
) -> None:
    """Open an update row per request, or join the open one: it keeps its due time (the first
    change since the last e-mail opens the window; later ones join it) but is locked by this
    statement, so a sender claiming it waits for this transaction and then sees the change."""
    if not requests:
        return
    table = connection.ops.quote_name(Notification._meta.db_table)
    # The conflict target repeats the partial index's condition in the index's own order
    # (Django writes it sorted by field name): SQLite matches the terms in order.
    upsert = f"""
        ON CONFLICT ("request_id")
            WHERE "attempts" = 0 AND "kind" = '{UPDATE_KIND}' AND "state" = 'queued'
        DO UPDATE SET "next_attempt_at" = {table}."next_attempt_at"
    """
    columns = """("key", "kind", "to", "order_id", "request_id", "created_at", "next_attempt_at",
                  "state", "attempts", "told")"""
    if connection.vendor == "postgresql":
        # One JSON parameter: a VALUES list of 500 rows costs psycopg a Python pass over every
        # placeholder (a tenth of a 1,000-batch drain).
        document = json.dumps(
            [
                {
                    "key": update_key(request_id),
                    "to": email,
                    "order_id": order_pk,
                    "request_id": str(request_id),
                }
                for request_id, order_pk, email in requests
            ]
        )
        sql = f"""
            INSERT INTO {table} {columns}
            SELECT r.key, %s, r."to", r.order_id, r.request_id, %s, %s, %s, 0, '{{}}'
              FROM jsonb_to_recordset(%s::jsonb)
                   AS r(key text, "to" text, order_id bigint, request_id uuid)
            {upsert}
        """  # noqa: S608 - names from the model and constants, values are parameters
        params: list[Any] = [UPDATE_KIND, now, due, Notification.State.QUEUED, document]
    else:
        rows = []
        params = []
        for request_id, order_pk, email in requests:
            rows.append("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
            params += [
                update_key(request_id),
                UPDATE_KIND,
                email,
                order_pk,
                request_id.hex,
                # As Django stores them (SQLite keeps naive UTC text), so comparisons match.
                connection.ops.adapt_datetimefield_value(now),
                connection.ops.adapt_datetimefield_value(due),
                Notification.State.QUEUED,
                0,
                "{}",
            ]
        sql = f"INSERT INTO {table} {columns} VALUES {', '.join(rows)} {upsert}"  # noqa: S608
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
    open_acks = _open_acks(ids, now)
    settled = [pk for pk, _, is_settled in open_acks if is_settled]
    if settled:
        Notification.objects.filter(_open(ACK_KIND), id__in=settled).update(next_attempt_at=now)
        # robust: the minute sweep sends a row whose task the broker refused.
        notifications_queue_send(settled, robust=True)
    # Requests whose acknowledgement a sender has taken (sent, being sent, or to be retried: a
    # retried one tells everything again, and the update then finds nothing new): later changes
    # get update e-mails. Requests with no acknowledgement at all (received before they existed)
    # count as acknowledged; an unclaimed one will tell every change itself.
    waiting_ack = {request_id for _, request_id, _ in open_acks}
    acknowledged = [r for r in ids if r not in waiting_ack]
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
