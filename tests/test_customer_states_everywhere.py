"""Every account state, and the one sentence the customer reads for it: the result page, the API
`message`, the order page and the e-mail all say exactly the same words."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from compensation.customer_states import AccountState
from compensation.models import AccountDecision, CompensationRequest, Decision, Notification
from compensation.order_page import order_page_link_issue
from compensation.selectors import request_view
from compensation.services.email_schedule import acknowledgements_schedule
from compensation.services.outbox import notification_send
from compensation.services.review import review_reject
from compensation.services.submit import request_submit
from orders.models import OrderLine

from .factories.compensation import (
    agent,
    deliver_replacement,
    request_with_decisions,
    waiting_batch,
)
from .factories.orders import delivered_line

pytestmark = pytest.mark.django_db


def _one(line: OrderLine, decision: str, rule: str, **status: object) -> CompensationRequest:
    return request_with_decisions(line=line, decisions=[(decision, rule)], **status)  # type: ignore[arg-type]


def checking(line: OrderLine) -> CompensationRequest:
    return _one(line, Decision.PENDING, "", status="checking")


def recheck(line: OrderLine) -> CompensationRequest:
    request = _one(line, Decision.UNVERIFIED, "status_unavailable", status="checking")
    request.decisions.update(next_check_at=timezone.now() + timedelta(minutes=5))
    return request


def with_person(line: OrderLine) -> CompensationRequest:
    return _one(line, Decision.MANUAL_REVIEW, "profile_not_found")


def approved(line: OrderLine) -> CompensationRequest:
    return _one(line, Decision.APPROVED, "locked_one_interaction")


def waiting_for_stock(line: OrderLine) -> CompensationRequest:
    waiting_batch(product=line.product, quantity=1, approved_at=timezone.now() - timedelta(hours=1))
    request = _one(line, Decision.APPROVED, "followers_decreased")
    request.batches.update(unavailable_notified_at=timezone.now())
    return request


def delivered(line: OrderLine) -> CompensationRequest:
    request = _one(line, Decision.APPROVED, "locked_no_interaction")
    deliver_replacement(batch=request.batches.get())
    return request


def delivered_after_review(line: OrderLine) -> CompensationRequest:
    request = delivered(line)
    request.decisions.update(reviewed=True, customer_message="We checked it by hand.")
    return request


def not_replaced(line: OrderLine) -> CompensationRequest:
    return _one(line, Decision.REJECTED, "appears_active")


def not_replaced_after_review(line: OrderLine) -> CompensationRequest:
    request = with_person(line)
    review_reject(
        decision_ids=list(request.decisions.values_list("id", flat=True)),
        actor=agent(),
        now=timezone.now(),
        customer_message="The profile shows posts made after delivery.",
    )
    return request


def _asked_again(line: OrderLine) -> CompensationRequest:
    """The customer asks again for a line an earlier request holds (refused at once)."""
    return request_submit(
        email=line.order.email,
        order_id=line.order.order_id,
        reason="Account locked",
        password_change_warning=False,
        skus=[line.product.sku],
        now=timezone.now(),
    ).request


def already_compensated(line: OrderLine) -> CompensationRequest:
    _one(line, Decision.APPROVED, "locked_no_interaction", now=timezone.now() - timedelta(days=1))
    return _asked_again(line)


def earlier_still_with_a_person(line: OrderLine) -> CompensationRequest:
    _one(line, Decision.MANUAL_REVIEW, "suspended_no_interaction")
    return _asked_again(line)


def earlier_ended_without_replacement(line: OrderLine) -> CompensationRequest:
    earlier = with_person(line)
    later = _asked_again(line)
    review_reject(
        decision_ids=list(earlier.decisions.values_list("id", flat=True)),
        actor=agent(),
        now=timezone.now(),
        customer_message="Used after delivery.",
    )
    return later


STATES: list[tuple[Callable[[OrderLine], CompensationRequest], AccountState, str]] = [
    (checking, AccountState.CHECKING, "We are checking this account's public profile now."),
    (recheck, AccountState.RECHECK, "We will check it again automatically after"),
    (with_person, AccountState.WITH_PERSON, "We could not find this account's public profile."),
    (approved, AccountState.APPROVED, "We are preparing your replacement"),
    (waiting_for_stock, AccountState.WAITING_FOR_STOCK, "it is number 2 in the queue"),
    (delivered, AccountState.DELIVERED, "Your replacement was delivered on"),
    (delivered_after_review, AccountState.DELIVERED, "Their message: “We checked it by hand.”"),
    (not_replaced, AccountState.NOT_REPLACED, "The account looks active and working."),
    (not_replaced_after_review, AccountState.NOT_REPLACED, "cannot replace it: The profile"),
    (already_compensated, AccountState.ALREADY_COMPENSATED, "was already compensated in your"),
    (earlier_still_with_a_person, AccountState.ALREADY_COMPENSATED, "is still being handled"),
    (earlier_ended_without_replacement, AccountState.ALREADY_COMPENSATED, "you may ask again"),
]


def _text(page: str) -> str:
    """What a reader sees of an HTML page: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize(("build", "state", "words"), STATES, ids=[s[0].__name__ for s in STATES])
def test_every_channel_says_the_same_sentence(
    build: Callable[[OrderLine], CompensationRequest], state: AccountState, words: str
) -> None:
    line = delivered_line(quantity=1)
    request = build(line)
    view = request_view(request_id=request.pk)
    assert view is not None
    [account] = view.accounts
    sentence = account.message
    assert account.state == state
    assert words in sentence

    client = Client()
    api = client.get(f"/api/v1/compensation-requests/{request.pk}").json()
    result_page = _text(client.get(f"/requests/{request.pk}/").content.decode())
    order_page = client.get(order_page_link_issue(order=line.order, now=timezone.now()))
    acknowledgements_schedule(requests=[request], now=request.received_at)
    ack = Notification.objects.get(key=f"request_received:{request.pk}")
    notification_send(notification_id=ack.pk, now=timezone.now() + timedelta(minutes=1))
    [message] = mail.outbox

    assert api["lines"][0]["accounts"][0]["message"] == sentence
    assert sentence in result_page
    assert sentence in _text(order_page.content.decode())
    assert sentence in message.body
    assert sentence in _text(str(message.alternatives[0][0]))  # type: ignore[attr-defined]
    # Nothing a later state contradicts: a decided account never reads "will review".
    if state not in (AccountState.WITH_PERSON,):
        assert "will review" not in sentence
    assert AccountDecision.objects.filter(request=request).count() == 1
