"""What a customer receives, end to end: the real submission, checks over HTTP against the status
double, fulfilment and the e-mail schedule, with time moved forward by the minute sweep."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from compensation.models import AccountDecision, CompensationRequest, Decision, Notification
from compensation.services.email_schedule import acknowledgements_schedule
from compensation.services.outbox import notification_send
from compensation.services.review import review_approve, review_reject
from compensation.services.submit import request_submit
from inventory.models import Account

from .emails import ORDER_LINK, send_due
from .factories.compensation import agent, request_with_decisions
from .factories.inventory import make_accounts, make_product
from .factories.orders import delivered_line, make_order

pytestmark = pytest.mark.django_db


def _html(message: Any) -> str:
    [(content, _mimetype)] = message.alternatives
    return str(content)


def _submit(order_id: str, email: str, callbacks: Any) -> CompensationRequest:
    with callbacks(execute=True):  # the checks, fulfilment and e-mail tasks run at commit
        result = request_submit(
            email=email,
            order_id=order_id,
            reason="Account locked",
            password_change_warning=False,
            skus=None,
            now=timezone.now(),
        )
    return result.request


def _sweep_for(request: CompensationRequest, minutes: int) -> None:
    """The minute schedule, run for the next `minutes` minutes after the request."""
    for minute in range(minutes + 1):
        send_due(now=request.received_at + timedelta(minutes=minute, seconds=1))


def test_three_accounts_approved_and_delivered_at_once_get_exactly_one_mail(
    status_double: Any, django_capture_on_commit_callbacks: Any
) -> None:
    product = make_product(sku="IG-AGED", name="Instagram account, aged 2019")
    order = make_order(order_id="D1002", email="buyer@example.com")
    line = delivered_line(quantity=3, order=order, product=product)
    make_accounts(3, product=product)  # the stock the replacements come from
    for account in line.accounts.all():
        status_double.set_profile(
            account.platform, account.username, state="locked", user_id=account.platform_user_id
        )

    request = _submit("d1002 ", "Buyer@Example.com", django_capture_on_commit_callbacks)
    _sweep_for(request, 10)

    [message] = mail.outbox
    assert message.subject == "Your replacements for order D1002 are ready"
    for body in (str(message.body), _html(message)):
        assert not re.search(r"waiting|unavailable", body, re.IGNORECASE)
        assert body.count("Your replacement was delivered on") == 3
        assert "Every account has a decision and every replacement has been delivered." in body
    assert len(set(ORDER_LINK.findall(str(message.body)))) == 1  # one order link for everything
    assert f"/requests/{request.pk}/" in message.body
    assert Account.objects.filter(line=line, delivery_kind="compensation").count() == 3
    assert list(Notification.objects.values_list("kind", "state")) == [("request_received", "sent")]


def test_all_accounts_unverified_get_an_acknowledgement_with_the_link(
    status_double: Any, django_capture_on_commit_callbacks: Any
) -> None:
    order = make_order(order_id="D1010", email="buyer@example.com")
    line = delivered_line(quantity=2, order=order)
    for account in line.accounts.all():
        status_double.fail(account.platform, account.username, status=503)

    request = _submit("D1010", "buyer@example.com", django_capture_on_commit_callbacks)
    assert set(request.decisions.values_list("decision", flat=True)) == {Decision.UNVERIFIED}
    assert mail.outbox == []  # within the grace period the checks may still settle

    send_due(now=request.received_at + timedelta(seconds=29))
    assert mail.outbox == []
    send_due(now=request.received_at + timedelta(seconds=31))

    [message] = mail.outbox
    assert message.subject == "We received your compensation request for order D1010"
    assert f"/requests/{request.pk}/" in message.body
    assert f"/requests/{request.pk}/" in _html(message)
    assert message.body.count("We will check it again automatically after") == 2
    assert "Still open: 2 accounts will be checked again automatically." in message.body
    assert ORDER_LINK.search(str(message.body)) is None  # nothing delivered: no order link


def _reviewed_request(stock: int) -> tuple[CompensationRequest, list[AccountDecision]]:
    """A request whose two accounts wait for a person; its acknowledgement has gone out."""
    product = make_product()
    line = delivered_line(
        quantity=2, order=make_order(order_id="D2000", email="b@example.com"), product=product
    )
    make_accounts(stock, product=product)
    request = request_with_decisions(
        line=line,
        decisions=[(Decision.MANUAL_REVIEW, "suspended_no_interaction")] * 2,
        now=timezone.now() - timedelta(minutes=30),
    )
    acknowledgements_schedule(requests=[request], now=request.received_at)
    ack = Notification.objects.get(request=request)
    assert notification_send(
        notification_id=ack.pk, now=request.received_at + timedelta(seconds=30)
    )
    mail.outbox.clear()
    return request, list(request.decisions.order_by("id"))


def test_two_cases_reviewed_minutes_apart_get_two_review_mails(
    django_capture_on_commit_callbacks: Any,
) -> None:
    _request, (first, second) = _reviewed_request(stock=1)
    me = agent()
    t = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        review_approve(
            decision_ids=[first.pk], actor=me, now=t, customer_message="Confirmed by hand."
        )
    send_due(now=t + timedelta(seconds=119))
    assert mail.outbox == []  # the review window is still open
    send_due(now=t + timedelta(seconds=121))
    with django_capture_on_commit_callbacks(execute=True):
        review_reject(
            decision_ids=[second.pk],
            actor=me,
            now=t + timedelta(minutes=5),
            customer_message="The account was used after delivery.",
        )
    for minutes in (6, 8, 15):
        send_due(now=t + timedelta(minutes=minutes))

    assert [m.subject for m in mail.outbox] == [
        "Our team reviewed your request for order D2000: your replacement is ready",
        "Our team reviewed your request for order D2000",
    ]
    approved, rejected = mail.outbox
    assert "Their message: “Confirmed by hand.”" in approved.body
    assert "Your replacement was delivered on" in approved.body
    assert second.account.username not in approved.body  # still with a person: not news
    assert "Still open: 1 account is waiting for a person." in approved.body
    assert "cannot replace it: The account was used after delivery." in rejected.body
    assert first.account.username not in rejected.body  # told already
    assert "will review" not in rejected.body


def test_two_cases_reviewed_within_the_window_get_one_mail(
    django_capture_on_commit_callbacks: Any,
) -> None:
    _request, (first, second) = _reviewed_request(stock=1)
    me = agent()
    t = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        review_approve(decision_ids=[first.pk], actor=me, now=t)
    with django_capture_on_commit_callbacks(execute=True):
        review_reject(
            decision_ids=[second.pk],
            actor=me,
            now=t + timedelta(seconds=90),
            customer_message="The account was used after delivery.",
        )
    for minutes in (1, 2, 3, 10):
        send_due(now=t + timedelta(minutes=minutes, seconds=1))

    [message] = mail.outbox
    assert (
        message.subject
        == "Our team reviewed your request for order D2000: your replacement is ready"
    )
    assert first.account.username in message.body and second.account.username in message.body
    assert "Every account has a decision and every replacement has been delivered." in message.body
    assert "will review" not in message.body
