"""Customer e-mails: one per event, sent only after the transaction that caused it commits.

`notify()` creates a `Notification` row whose `key` is unique per event (a second call with the
same key, e.g. a task delivered twice, does nothing) and queues `send_notification` on commit.
`notification_message()` renders `templates/emails/<kind>.txt` + `.html`; the outbox
(`compensation.services.outbox`) sends it, marks it sent only once the mail server accepted it,
retries with back-off and shows staff the e-mails that finally failed.

The `Notification` model stores no context, so everything an e-mail shows is rebuilt from the
database when it is sent: the request (its current decisions, through `compensation.selectors`),
the batch (its id is in the key) and, for the e-mails that carry one, a freshly issued order-page
link (issued at send time, so the token never sits in a task argument or a table).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from compensation import tasks
from compensation.events import order_link_resent_event
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Notification,
    ReplacementBatch,
)
from compensation.order_page import order_page_link_issue
from compensation.queueing import enqueue_on_commit
from compensation.selectors import request_view
from inventory.audit import Actor
from orders.models import Order

KINDS = (
    "request_received",
    "sent_to_review",
    "unavailable",
    "delivered",
    "review_outcome",
    "order_link",
)


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
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    try:
        with transaction.atomic():  # savepoint: a duplicate key must not break the caller's work
            notification = Notification.objects.create(
                key=key, kind=kind, to=order.email, order=order, request=request
            )
    except IntegrityError:
        return None
    enqueue_on_commit(tasks.send_notification, notification.pk)
    return notification


# --- the events the other services report ------------------------------------------------------


def notify_request_received(*, request: CompensationRequest) -> Notification | None:
    return notify(
        kind="request_received",
        key=f"request_received:{request.pk}",
        order=request.order,
        request=request,
    )


def notify_sent_to_review(*, request: CompensationRequest) -> Notification | None:
    return notify(
        kind="sent_to_review",
        key=f"sent_to_review:{request.pk}",
        order=request.order,
        request=request,
    )


def notify_unavailable(*, batch: ReplacementBatch) -> Notification | None:
    """Once per waiting batch, however often fulfilment finds it short of stock (the key is the
    batch; `ReplacementBatch.unavailable_notified_at` is kept by the fulfilment service)."""
    return notify(
        kind="unavailable",
        key=f"unavailable:{batch.pk}",
        order=batch.line.order,
        request=batch.request,
    )


def notify_delivered(*, batch: ReplacementBatch) -> Notification | None:
    return notify(
        kind="delivered", key=f"delivered:{batch.pk}", order=batch.line.order, request=batch.request
    )


def notify_review_outcome(
    *, decision_ids: Sequence[int], request: CompensationRequest
) -> Notification | None:
    """One e-mail per staff decision: the key is the sorted decision ids and their outcome."""
    ids = sorted({int(i) for i in decision_ids})
    if not ids:
        return None
    outcomes = sorted(
        set(
            AccountDecision.objects.filter(pk__in=ids, request=request).values_list(
                "decision", flat=True
            )
        )
    )
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:32]
    return notify(
        kind="review_outcome",
        key=f"review_outcome:{request.pk}:{digest}:{'+'.join(outcomes)}",
        order=request.order,
        request=request,
    )


def notify_order_link(*, order: Order, now: datetime) -> Notification | None:
    """A fresh order-page link the customer asked for (each ask is its own event)."""
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


# --- sending ----------------------------------------------------------------------------------


def _result_url(request: CompensationRequest) -> str:
    return settings.SITE_URL + reverse(
        "compensation:request_result", kwargs={"request_id": request.pk}
    )


def _batch_id(notification: Notification) -> int:
    return int(notification.key.split(":", 1)[1])


def _subject(kind: str, order_id: str) -> str:
    subjects = {
        "request_received": _("We received your compensation request for order %(order)s"),
        "sent_to_review": _("A person will review part of your request for order %(order)s"),
        "unavailable": _("Your replacement for order %(order)s is currently unavailable"),
        "delivered": _("Your replacement for order %(order)s has been delivered"),
        "review_outcome": _("Our team reviewed your request for order %(order)s"),
        "order_link": _("Your link to order %(order)s"),
    }
    return subjects[kind] % {"order": order_id}


def _context(notification: Notification, *, now: datetime) -> dict[str, Any]:
    order = notification.order
    assert order is not None
    context: dict[str, Any] = {
        "kind": notification.kind,
        "order_id": order.order_id,
        "site_url": settings.SITE_URL,
        "link_days": settings.ORDER_LINK_MAX_AGE_DAYS,
    }
    if notification.request_id is not None:
        assert notification.request is not None
        context["view"] = request_view(request_id=notification.request_id)
        context["result_url"] = _result_url(notification.request)
    if notification.kind in ("unavailable", "delivered"):
        batch = ReplacementBatch.objects.select_related("product").get(pk=_batch_id(notification))
        context["batch"] = batch
        context["product_name"] = batch.product.name
    if notification.kind in ("delivered", "order_link"):
        context["order_link"] = order_page_link_issue(order=order, now=now)
    return context


def notification_message(notification: Notification, *, now: datetime) -> EmailMultiAlternatives:
    """The e-mail for a notification, rendered from the current state of the database (the
    outbox sends it; `compensation.services.outbox`)."""
    with translation.override(settings.LANGUAGE_CODE):
        with transaction.atomic():
            context = _context(notification, now=now)
        assert notification.order is not None
        subject = _subject(notification.kind, notification.order.order_id)
        text = render_to_string(f"emails/{notification.kind}.txt", context)
        html = render_to_string(f"emails/{notification.kind}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.to],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html, "text/html")
    return message


def notification_batch_id(notification: Notification) -> int | None:
    """The replacement batch an e-mail is about (its key names it), for the audit event."""
    return _batch_id(notification) if notification.kind in ("unavailable", "delivered") else None
