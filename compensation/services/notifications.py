"""Customer e-mails: WHAT a `Notification` row says (WHEN it is due is `services.email_schedule`,
HOW it is sent is the outbox, `services.outbox`).

`notification_message()` (`notification_messages()` for many) composes the e-mail from the state
at the moment it is sent (`compensation.email_compose`), so it is never stale; it is None for an
update that finds nothing new to tell (the outbox then marks the row skipped). Rows store no
context and no token: the order-page link inside an e-mail is issued when it is composed.

`notify()` records one e-mail for one event (the unique key makes a repeated event create nothing
twice) and queues its sending after commit; the order-link e-mail is such an event.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import translation

from compensation import tasks
from compensation.email_compose import emails_compose
from compensation.events import order_link_resent_event
from compensation.models import CompensationRequest, Notification
from compensation.queueing import enqueue_on_commit
from inventory.audit import Actor
from orders.models import Order


def notify(
    *,
    kind: str,
    key: str,
    order: Order,
    request: CompensationRequest | None = None,
) -> Notification | None:
    """Record one e-mail for one event and send it after commit; None if the key already exists.

    Call inside the transaction of the change it reports: if that rolls back, nothing is sent.
    """
    try:
        with transaction.atomic():  # savepoint: a duplicate key must not break the caller's work
            notification = Notification.objects.create(
                key=key, kind=kind, to=order.email, order=order, request=request
            )
    except IntegrityError:
        return None
    enqueue_on_commit(tasks.send_notification, notification.pk)
    return notification


def notify_order_link(*, order: Order, now: datetime) -> Notification | None:
    """A fresh order-page link the customer asked for (each ask is its own e-mail)."""
    return notify(
        kind="order_link",
        key=f"order_link:{order.pk}:{now:%Y%m%dT%H%M%S}:{secrets.token_hex(6)}",
        order=order,
    )


def order_link_resend_by_staff(*, order: Order, actor: Actor, now: datetime) -> None:
    """Staff e-mail the customer a fresh order-page link (to the order's own address only), with
    an audit event naming who asked."""
    with transaction.atomic():
        notify_order_link(order=order, now=now)
        order_link_resent_event(order_id=order.pk, email=order.email, actor=actor, now=now)


def notification_message(
    notification: Notification, *, now: datetime
) -> EmailMultiAlternatives | None:
    """The e-mail for a notification, composed from the current state of the database; None
    when it is an update with nothing new to tell."""
    return notification_messages([notification], now=now)[notification.pk]


def notification_messages(
    notifications: Sequence[Notification], *, now: datetime
) -> dict[int, EmailMultiAlternatives | None]:
    """`notification_message` for many rows at once, by row id (composed together)."""
    with translation.override(settings.LANGUAGE_CODE):
        composed = emails_compose(notifications=notifications, now=now)
    by_pk = {n.pk: n for n in notifications}
    messages: dict[int, EmailMultiAlternatives | None] = {}
    for pk, email in composed.items():
        if email is None:
            messages[pk] = None
            continue
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[by_pk[pk].to],
            headers={"Auto-Submitted": "auto-generated"},
        )
        message.attach_alternative(email.html, "text/html")
        messages[pk] = message
    return messages
