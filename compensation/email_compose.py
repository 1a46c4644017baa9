"""WHAT a customer e-mail says, composed when it is sent from the state at that moment.

A request's acknowledgement tells every account; each later e-mail tells the accounts whose state
changed since the e-mails before it (`Notification.told` keeps, per decision id, the state each
e-mail told). An update with nothing new is not sent at all. The words are the ones of the
result page and the API (`customer_view` / `customer_messages`); the subject says what changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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
from compensation.selectors import AccountView, LineView, RequestView, request_views
from compensation.services.email_schedule import UPDATE_KIND
from inventory.bulk import rows_update


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


def _told_rows(request_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[int, dict[str, str]]]:
    """What each row of these requests told, per request and row id. An e-mail that finally
    failed told nothing."""
    rows: dict[uuid.UUID, dict[int, dict[str, str]]] = {r: {} for r in request_ids}
    for pk, request_id, told in (
        Notification.objects.filter(request_id__in=request_ids)
        .exclude(told={})
        .exclude(state=Notification.State.FAILED)
        .values_list("pk", "request_id", "told")
    ):
        rows[request_id][pk] = told or {}
    return rows


def _told_before(rows: dict[int, dict[str, str]], *, exclude: int) -> dict[str, str]:
    """What the request's other e-mails told, per decision id (later e-mails win)."""
    told: dict[str, str] = {}
    for pk in sorted(rows):
        if pk != exclude:
            told.update(rows[pk])
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


@dataclass(frozen=True)
class _Draft:
    template: str
    kind: str
    subject: str
    context: dict[str, Any]
    told: dict[str, str]


def _request_emails(
    notifications: list[Notification], *, now: datetime
) -> dict[int, ComposedEmail | None]:
    """The e-mails about requests, in one transaction: the requests locked in primary-key order
    (one composer per request at a time, so two e-mails never tell the same change) and read
    together. Rows of one request are composed in id order, each after what the earlier told."""
    request_ids = sorted({n.request_id for n in notifications if n.request_id is not None})
    drafts: dict[int, _Draft | None] = {}
    with transaction.atomic():
        list(
            CompensationRequest.objects.select_for_update()
            .filter(pk__in=request_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        views = request_views(request_ids=request_ids)
        # Rows of the kinds used before acknowledgements existed (still queued at an upgrade)
        # tell the whole request, like an acknowledgement.
        updates = any(n.kind == UPDATE_KIND for n in notifications)
        told_rows = _told_rows(request_ids) if updates else {r: {} for r in request_ids}
        changed: list[Notification] = []
        for notification in sorted(notifications, key=lambda n: n.pk):
            assert notification.request_id is not None and notification.order is not None
            view = views[notification.request_id]
            earlier = told_rows[notification.request_id]
            drafts[notification.pk] = draft = _request_draft(
                notification, view=view, earlier=earlier, now=now
            )
            if draft is not None:
                earlier[notification.pk] = notification.told = draft.told
                changed.append(notification)
        rows_update(Notification, changed, ["told"])
    return {
        pk: None
        if draft is None
        else ComposedEmail(
            kind=draft.kind,
            subject=draft.subject,
            text=render_to_string(f"emails/{draft.template}.txt", draft.context),
            html=render_to_string(f"emails/{draft.template}.html", draft.context),
            told=draft.told,
        )
        for pk, draft in drafts.items()
    }


def _request_draft(
    notification: Notification,
    *,
    view: RequestView,
    earlier: dict[int, dict[str, str]],
    now: datetime,
) -> _Draft | None:
    assert notification.order is not None
    acknowledgement = notification.kind != UPDATE_KIND
    told_before = {} if acknowledgement else _told_before(earlier, exclude=notification.pk)
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
    return _Draft(
        template="request_received" if acknowledgement else "request_update",
        kind=kind,
        subject=subject,
        context=context,
        told={str(a.decision_id): a.state.value for a in view.accounts},
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
    return emails_compose(notifications=[notification], now=now)[notification.pk]


def emails_compose(
    *, notifications: Sequence[Notification], now: datetime
) -> dict[int, ComposedEmail | None]:
    """`email_compose` for many rows at once (the outbox's batch), by row id: the same words,
    in a fixed number of queries plus the order links it issues."""
    composed: dict[int, ComposedEmail | None] = {
        n.pk: _order_link_email(n, now=now) for n in notifications if n.kind == "order_link"
    }
    about_requests = [n for n in notifications if n.kind != "order_link"]
    if about_requests:
        composed.update(_request_emails(about_requests, now=now))
    return composed
