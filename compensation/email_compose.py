"""WHAT a customer e-mail says, composed when it is sent from the state at that moment.

A request's acknowledgement tells every account; each later e-mail tells the accounts whose state
changed since the e-mails before it (`Notification.told` keeps, per decision id, the state each
e-mail told). An update with nothing new is not sent at all. The words are the ones of the
result page and the API (`customer_view` / `customer_messages`); the subject says what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from compensation import customer_messages as words
from compensation.customer_states import AccountState
from compensation.models import CompensationRequest, Notification
from compensation.order_page import order_page_link_issue
from compensation.selectors import AccountView, LineView, RequestView, request_view
from compensation.services.email_schedule import UPDATE_KIND


@dataclass(frozen=True)
class ComposedEmail:
    kind: str  # what it tells: acknowledgement, delivered, review_outcome, unavailable, …
    subject: str
    text: str
    html: str
    told: dict[str, str]


@dataclass(frozen=True)
class _Group:
    line: LineView
    accounts: list[AccountView]


def result_url(request_id: object) -> str:
    return settings.SITE_URL + reverse(
        "compensation:request_result", kwargs={"request_id": request_id}
    )


def _told_before(notification: Notification) -> dict[str, str]:
    """What the request's earlier e-mails told, per decision id (later e-mails win). An e-mail
    that finally failed told nothing."""
    told: dict[str, str] = {}
    for row in (
        Notification.objects.filter(request_id=notification.request_id)
        .exclude(pk=notification.pk)
        .exclude(told={})
        .exclude(state=Notification.State.FAILED)
        .order_by("id")
        .values_list("told", flat=True)
    ):
        told.update(row or {})
    return told


def _groups(view: RequestView, accounts: list[AccountView]) -> list[_Group]:
    wanted = {a.decision_id for a in accounts}
    groups = []
    for line in view.lines:
        chosen = [a for a in line.accounts if a.decision_id in wanted]
        if chosen:
            groups.append(_Group(line=line, accounts=chosen))
    return groups


def _count(news: list[AccountView], state: AccountState) -> int:
    return sum(1 for a in news if a.state == state)


def _subject(
    *, view: RequestView, news: list[AccountView], acknowledgement: bool
) -> tuple[str, str]:
    order = view.order_id
    delivered = _count(news, AccountState.DELIVERED)
    reviewed = any(a.status.by_person for a in news)
    if delivered and reviewed:
        return "delivered", _(
            "Our team reviewed your request for order %(order)s: your replacement is ready"
        ) % {"order": order}
    if delivered:
        return "delivered", ngettext(
            "Your replacement for order %(order)s is ready",
            "Your replacements for order %(order)s are ready",
            delivered,
        ) % {"order": order}
    if acknowledgement:
        if view.open_count:
            return "acknowledgement", _(
                "We received your compensation request for order %(order)s"
            ) % {"order": order}
        return "acknowledgement", _("We checked your compensation request for order %(order)s") % {
            "order": order
        }
    if reviewed:
        return "review_outcome", _("Our team reviewed your request for order %(order)s") % {
            "order": order
        }
    if _count(news, AccountState.WAITING_FOR_STOCK):
        return "unavailable", _(
            "Your replacement for order %(order)s is approved and waiting for stock"
        ) % {"order": order}
    if _count(news, AccountState.WITH_PERSON):
        return "sent_to_review", _(
            "A person will review part of your request for order %(order)s"
        ) % {"order": order}
    return "checked", _("We finished checking your request for order %(order)s") % {"order": order}


def _request_email(notification: Notification, *, now: datetime) -> ComposedEmail | None:
    assert notification.request_id is not None and notification.order is not None
    with transaction.atomic():
        # One composer per request at a time, so two e-mails never tell the same change.
        CompensationRequest.objects.select_for_update().filter(pk=notification.request_id).exists()
        view = request_view(request_id=notification.request_id)
        assert view is not None
        # Rows of the kinds used before acknowledgements existed (still queued at an upgrade) tell
        # the whole request, like an acknowledgement.
        acknowledgement = notification.kind != UPDATE_KIND
        told_before = {} if acknowledgement else _told_before(notification)
        news = [a for a in view.accounts if told_before.get(str(a.decision_id)) != a.state.value]
        if not news and not acknowledgement:
            return None
        kind, subject = _subject(view=view, news=news, acknowledgement=acknowledgement)
        order_link = (
            order_page_link_issue(order=notification.order, now=now)
            if any(a.state == AccountState.DELIVERED for a in news)
            else None
        )
        context: dict[str, Any] = {
            "acknowledgement": acknowledgement,
            "order_id": view.order_id,
            "received": view.created_at,
            "groups": _groups(view, news),
            "headline": view.headline,
            "open": view.open_count,
            "result_url": result_url(view.id),
            "order_link": order_link,
            "link_days": settings.ORDER_LINK_MAX_AGE_DAYS,
            "words": words,
        }
        told = {str(a.decision_id): a.state.value for a in view.accounts}
        Notification.objects.filter(pk=notification.pk).update(told=told)
    template = "request_received" if acknowledgement else "request_update"
    return ComposedEmail(
        kind=kind,
        subject=subject,
        text=render_to_string(f"emails/{template}.txt", context),
        html=render_to_string(f"emails/{template}.html", context),
        told=told,
    )


def _order_link_email(notification: Notification, *, now: datetime) -> ComposedEmail:
    assert notification.order is not None
    context = {
        "order_id": notification.order.order_id,
        "order_link": order_page_link_issue(order=notification.order, now=now),
        "link_days": settings.ORDER_LINK_MAX_AGE_DAYS,
    }
    return ComposedEmail(
        kind="order_link",
        subject=_("Your link to order %(order)s") % {"order": notification.order.order_id},
        text=render_to_string("emails/order_link.txt", context),
        html=render_to_string("emails/order_link.html", context),
        told={},
    )


def email_compose(*, notification: Notification, now: datetime) -> ComposedEmail | None:
    """The e-mail a notification row stands for, from the state now; None when an update has
    nothing new to tell (every change was told by an earlier e-mail)."""
    if notification.kind == "order_link":
        return _order_link_email(notification, now=now)
    return _request_email(notification, now=now)
