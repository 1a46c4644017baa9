"""Many customer e-mails of one kind at once, for services that change many rows in one go (the
fulfilment drain delivers a thousand batches in one transaction).

The rows are written with ONE insert that skips keys already there (`INSERT … ON CONFLICT DO
NOTHING`, through `bulk_create(ignore_conflicts=True)`), the ids still unsent are read back in
one query, and ONE task sends them all after commit (`tasks.send_notifications`), instead of a
savepoint, an insert and a queued task per e-mail. Sending each one is the outbox's
(`outbox.notification_send`: claim, render, send, mark sent or schedule the retry), so every
guarantee of `notify` holds: one e-mail per key, nothing sent when the transaction rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from compensation import tasks
from compensation.models import Notification, ReplacementBatch
from compensation.queueing import enqueue_on_commit
from compensation.services.notifications import KINDS
from compensation.services.outbox import notification_send
from orders.models import Order


@dataclass(frozen=True, slots=True)
class Mail:
    key: str
    order: Order
    request_id: uuid.UUID | None


def notifications_create_many(*, kind: str, mails: Sequence[Mail]) -> list[int]:
    """Record one e-mail per mail (keys already present are skipped); returns the ids of those
    still unsent, for `notifications_send_after_commit`. Call inside the change's transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if not mails:
        return []
    Notification.objects.bulk_create(
        [
            Notification(
                key=m.key, kind=kind, to=m.order.email, order=m.order, request_id=m.request_id
            )
            for m in mails
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    return list(
        Notification.objects.filter(
            key__in=[m.key for m in mails], state=Notification.State.QUEUED
        ).values_list("pk", flat=True)
    )


def notifications_send_after_commit(notification_ids: Sequence[int]) -> None:
    """One task, after commit, sends them all (nothing is queued for an empty list)."""
    if notification_ids:
        enqueue_on_commit(tasks.send_notifications, list(notification_ids))


def notify_batches(
    *, delivered: Sequence[ReplacementBatch], unavailable: Sequence[ReplacementBatch]
) -> list[int]:
    """`notify_delivered` / `notify_unavailable` for the batches of one drain (same keys, so
    the one-by-one and the set-based paths never send twice), sent by one task."""
    ids = notifications_create_many(
        kind="delivered",
        mails=[Mail(f"delivered:{b.pk}", b.line.order, b.request_id) for b in delivered],
    ) + notifications_create_many(
        kind="unavailable",
        mails=[Mail(f"unavailable:{b.pk}", b.line.order, b.request_id) for b in unavailable],
    )
    notifications_send_after_commit(ids)
    return ids


def notifications_send_many(*, notification_ids: Sequence[int]) -> int:
    """Send each queued notification through the outbox (which records a mail server's refusal
    and retries it later). Anything unexpected does not stop the others; it is raised at the
    end so the task shows as failed, and the outbox's sweep sends what is left. Returns how many
    the mail server accepted."""
    sent = 0
    failed: list[int] = []
    for notification_id in notification_ids:
        try:
            sent += notification_send(notification_id=notification_id)
        except Exception:  # the rest still go out
            failed.append(notification_id)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(notification_ids)} e-mails not sent: {failed}")
    return sent
