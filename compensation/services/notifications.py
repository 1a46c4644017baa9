"""Customer e-mails: how a Notification row is sent (WHEN it is due and WHAT it says live in
`services.email_schedule` and `email_compose`).

A row is sent at most once: `notification_send()` claims it with a compare-and-set on `sent_at`
(only once its `send_after` has passed), composes it from the state at that moment, sends it
through Django's mail (`EMAIL_URL`) with no lock held, and records an `email_sent` event. An
update that finds nothing new to tell is marked `skipped` instead. If composing or sending fails,
the claim is released for the retry. `notifications_send_due()` (every minute) sends the rows
whose time has come and any whose send task was lost.

Rows store no context and no token: the order-page link inside an e-mail is issued when it is
sent.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation

from compensation import tasks
from compensation.email_compose import email_compose
from compensation.events import email_sent_event
from compensation.models import Notification
from compensation.queueing import enqueue_on_commit
from compensation.services.email_schedule import UPDATE_KIND, notifications_due
from orders.models import Order
from orders.selectors import order_find

log = logging.getLogger(__name__)


def notify_order_link(*, order: Order, now: datetime) -> Notification | None:
    """A fresh order-page link the customer asked for (each ask is its own e-mail), sent after
    commit. Call inside the transaction of the ask."""
    try:
        with transaction.atomic():  # savepoint: a duplicate key must not break the caller's work
            notification = Notification.objects.create(
                key=f"order_link:{order.pk}:{now:%Y%m%dT%H%M%S}:{secrets.token_hex(6)}",
                kind="order_link",
                to=order.email,
                order=order,
            )
    except IntegrityError:
        return None
    enqueue_on_commit(tasks.send_notification, notification.pk)
    return notification


def order_link_resend(*, order_id: str, now: datetime) -> None:
    """E-mail a fresh link to the address stored on the order, if the order exists.

    Returns nothing either way: the caller must answer the same whether the order exists or not.
    The link itself is issued when the e-mail is sent (the token never sits in a task argument).
    """
    order = order_find(order_id)
    if order is None:
        return
    with transaction.atomic():
        notify_order_link(order=order, now=now)


def _claim(notification: Notification, *, now: datetime) -> bool:
    """Compare-and-set the row to sent. An update row (`…:next`) takes its final key in the same
    statement, so a change committed after this moment schedules a new e-mail (email_schedule)."""
    key = notification.key
    if notification.kind == UPDATE_KIND and key.endswith(":next"):
        key = f"{UPDATE_KIND}:{notification.request_id}:{notification.pk}"
    claimed = (
        Notification.objects.filter(pk=notification.pk, sent_at__isnull=True, skipped=False)
        .filter(Q(send_after__isnull=True) | Q(send_after__lte=now))
        .update(sent_at=now, key=key)
    )
    notification.key = key
    return bool(claimed)


def notification_send(*, notification_id: int, now: datetime | None = None) -> bool:
    """Send one notification at most once, not before its `send_after`; True when this call
    sent it. The mail server is called with no lock or transaction held."""
    now = now or timezone.now()
    notification = (
        Notification.objects.select_related("order", "request").filter(pk=notification_id).first()
    )
    if notification is None or not _claim(notification, now=now):
        return False
    try:
        with translation.override(settings.LANGUAGE_CODE):
            composed = email_compose(notification=notification, now=now)
        if composed is None:  # every change was told already
            Notification.objects.filter(pk=notification_id).update(skipped=True)
            return False
        message = EmailMultiAlternatives(
            subject=composed.subject,
            body=composed.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notification.to],
            headers={"Auto-Submitted": "auto-generated"},
        )
        message.attach_alternative(composed.html, "text/html")
        message.send()
    except Exception:
        Notification.objects.filter(pk=notification_id).update(sent_at=None)
        log.exception("notification %s (%s) could not be sent", notification_id, notification.kind)
        raise
    email_sent_event(
        notification=notification,
        batch_id=None,
        now=now,
        subject=composed.subject,
        tells=composed.kind,
    )
    return True


def notifications_send_due(*, now: datetime) -> int:
    """Send every row whose time has come (the minute schedule); returns how many were sent."""
    sent = 0
    for notification_id in notifications_due(now=now, limit=200):
        try:
            sent += notification_send(notification_id=notification_id, now=now)
        except Exception:  # logged by notification_send; the others still go out
            log.warning("due notification %s left for the next sweep", notification_id)
    return sent
