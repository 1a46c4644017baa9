"""How customer e-mails are scheduled, claimed, composed and sent: at most once, after commit,
not before their time, nothing told twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from compensation.events import CompensationEvent
from compensation.models import CompensationRequest, Decision, Notification
from compensation.services.email_schedule import (
    Change,
    acknowledgements_schedule,
    notifications_on_change,
)
from compensation.services.fresh_links import order_link_request
from compensation.services.outbox import notification_send, notifications_send
from compensation.tasks import send_notification
from inventory.models import Event
from orders.links import order_link_resolve

from .emails import link_in, send_due
from .factories.compensation import deliver_replacement, request_with_decisions
from .factories.orders import delivered_line, make_order

pytestmark = pytest.mark.django_db
GRACE = timedelta(seconds=30)


def _request(decisions: list[tuple[str, str]] | None = None) -> CompensationRequest:
    line = delivered_line(quantity=2, order=make_order(order_id="A8000", email="buyer@example.com"))
    return request_with_decisions(
        line=line,
        decisions=decisions
        or [
            (Decision.APPROVED, "locked_no_interaction"),
            (Decision.MANUAL_REVIEW, "suspended_no_interaction"),
        ],
    )


def _acknowledge(request: CompensationRequest) -> Notification:
    """Schedule the acknowledgement and send it at the end of the grace period."""
    acknowledgements_schedule(requests=[request], now=request.received_at)
    ack = Notification.objects.get(key=f"request_received:{request.pk}")
    assert notification_send(notification_id=ack.pk, now=request.received_at + GRACE)
    return ack


def _html(message: Any) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return str(content)


def test_the_acknowledgement_waits_for_its_time_and_is_sent_once() -> None:
    request = _request()
    received = request.received_at
    acknowledgements_schedule(requests=[request], now=received)
    acknowledgements_schedule(requests=[request], now=received)  # a twin: nothing more
    ack = Notification.objects.get()
    assert (ack.kind, ack.next_attempt_at) == ("request_received", received + GRACE)

    assert notification_send(notification_id=ack.pk, now=received + GRACE / 2) is False
    assert send_due(now=received + GRACE / 2) == 0
    assert mail.outbox == []

    assert send_due(now=received + GRACE) == 1
    send_notification(ack.pk)  # the task delivered a second time
    assert notification_send(notification_id=ack.pk, now=received + 2 * GRACE) is False

    [message] = mail.outbox
    assert message.subject == "We received your compensation request for order A8000"
    assert message.to == ["buyer@example.com"]
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert f"/requests/{request.pk}/" in message.body and f"/requests/{request.pk}/" in _html(
        message
    )
    assert Event.objects.filter(kind=CompensationEvent.EMAIL_SENT).count() == 1
    ack.refresh_from_db()
    assert (ack.state, ack.sent_at) == ("sent", received + GRACE)
    assert set(ack.told.values()) == {"approved", "with_person"}


def test_a_rolled_back_change_schedules_nothing(django_capture_on_commit_callbacks) -> None:
    request = _request()
    _acknowledge(request)
    mail.outbox.clear()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notifications_on_change(
            request_ids=[request.pk], change=Change.REVIEWED, now=timezone.now()
        )
        raise RuntimeError("the service failed after reporting")

    assert callbacks == []
    assert Notification.objects.filter(kind="request_update").count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_settled_acknowledgement_goes_at_once_but_only_after_commit() -> None:
    request = _request([(Decision.REJECTED, "appears_active")] * 2)
    now = request.received_at
    acknowledgements_schedule(requests=[request], now=now)

    with pytest.raises(RuntimeError), transaction.atomic():
        notifications_on_change(request_ids=[request.pk], change=Change.CHECKED, now=now)
        raise RuntimeError("rolled back")
    assert mail.outbox == []
    assert Notification.objects.get().next_attempt_at == now + GRACE

    with transaction.atomic():
        notifications_on_change(request_ids=[request.pk], change=Change.CHECKED, now=now)
        assert mail.outbox == []  # not before the commit
    assert [m.subject for m in mail.outbox] == [
        "We checked your compensation request for order A8000"
    ]


def test_changes_before_the_update_is_sent_join_it_and_keep_its_time() -> None:
    request = _request()
    _acknowledge(request)
    t = request.received_at + timedelta(minutes=5)

    notifications_on_change(request_ids=[request.pk], change=Change.REVIEWED, now=t)
    notifications_on_change(request_ids=[request.pk], change=Change.DELIVERED, now=t)
    notifications_on_change(
        request_ids=[request.pk], change=Change.SHORT, now=t + timedelta(seconds=30)
    )

    [update] = Notification.objects.filter(kind="request_update")
    assert (update.state, update.next_attempt_at) == ("queued", t + timedelta(seconds=120))


def test_an_update_tells_only_what_changed_and_nothing_twice() -> None:
    request = _request()
    _acknowledge(request)
    batch = request.batches.get()
    t = request.received_at + timedelta(minutes=5)

    deliver_replacement(batch=batch, now=t)
    notifications_on_change(request_ids=[request.pk], change=Change.DELIVERED, now=t)
    [first] = Notification.objects.filter(kind="request_update")
    assert notification_send(notification_id=first.pk, now=t + timedelta(seconds=15))

    message = mail.outbox[-1]
    assert message.subject == "Your replacement for order A8000 is ready"
    assert "Your replacement was delivered on" in message.body
    assert "suspended" not in message.body  # the account with a person did not change
    assert "Still open: 1 account is waiting for a person." in message.body

    # Reported again (a twin task) after that e-mail was claimed: a new row, which finds nothing
    # new and is not sent.
    notifications_on_change(request_ids=[request.pk], change=Change.DELIVERED, now=t)
    [second] = Notification.objects.filter(kind="request_update", state="queued")
    assert notification_send(notification_id=second.pk, now=t + timedelta(minutes=1)) is False
    second.refresh_from_db()
    assert (second.state, second.sent_at) == ("skipped", None)
    assert len(mail.outbox) == 2  # the acknowledgement and the delivery


def test_the_delivery_link_works_and_its_token_is_stored_nowhere(client, settings) -> None:
    request = _request()
    _acknowledge(request)
    deliver_replacement(batch=request.batches.get())
    notifications_on_change(request_ids=[request.pk], change=Change.DELIVERED, now=timezone.now())
    send_due(now=timezone.now() + timedelta(minutes=1))

    message = mail.outbox[-1]
    url = link_in(message.body)
    assert f'href="{url}"' in _html(message)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert order_link_resolve(token=token, now=timezone.now()) is not None
    page = client.get(url.replace(settings.SITE_URL, ""))
    assert "Compensate Product" in page.content.decode()
    assert not any(token in str(e.data) + e.message for e in Event.objects.all())
    assert not any(token in n.key + str(n.told) for n in Notification.objects.all())


def test_a_scheduled_e_mail_that_fails_is_retried_and_keeps_telling_everything(
    monkeypatch,
) -> None:
    request = _request()
    acknowledgements_schedule(requests=[request], now=request.received_at)
    ack = Notification.objects.get()
    due = request.received_at + GRACE

    def boom(self, fail_silently=False):
        raise ConnectionError("SMTP down")

    with monkeypatch.context() as patch:
        patch.setattr(EmailMultiAlternatives, "send", boom)
        assert notification_send(notification_id=ack.pk, now=due) is False
    ack.refresh_from_db()
    assert (ack.state, ack.attempts) == ("queued", 1)
    # A change meanwhile: the retried acknowledgement tells it, so the update finds nothing new.
    request.decisions.filter(decision=Decision.MANUAL_REVIEW).update(
        decision=Decision.REJECTED, reviewed=True, customer_message="Used after delivery."
    )
    notifications_on_change(request_ids=[request.pk], change=Change.REVIEWED, now=due)

    assert ack.next_attempt_at is not None
    assert send_due(now=ack.next_attempt_at) == 1
    assert send_due(now=due + timedelta(minutes=10)) == 0
    [message] = mail.outbox
    assert message.subject == "We received your compensation request for order A8000"
    assert "cannot replace it: Used after delivery." in message.body
    assert list(Notification.objects.values_list("kind", "state")) == [
        ("request_received", "sent"),
        ("request_update", "skipped"),
    ]


def test_e_mails_of_one_request_sent_by_one_task_tell_nothing_twice(monkeypatch) -> None:
    """The same words as one by one: rows of one request are composed in id order, each after
    what the earlier ones told (here the retried acknowledgement tells the change already)."""
    request = _request()
    acknowledgements_schedule(requests=[request], now=request.received_at)
    ack = Notification.objects.get()
    due = request.received_at + GRACE

    def boom(self, fail_silently=False):
        raise ConnectionError("SMTP down")

    with monkeypatch.context() as patch:
        patch.setattr(EmailMultiAlternatives, "send", boom)
        assert notification_send(notification_id=ack.pk, now=due) is False
    request.decisions.filter(decision=Decision.MANUAL_REVIEW).update(
        decision=Decision.REJECTED, reviewed=True, customer_message="Used after delivery."
    )
    notifications_on_change(request_ids=[request.pk], change=Change.REVIEWED, now=due)
    update = Notification.objects.get(kind="request_update")

    assert (
        notifications_send(notification_ids=[update.pk, ack.pk], now=due + timedelta(hours=1)) == 1
    )

    [message] = mail.outbox
    assert message.subject == "We received your compensation request for order A8000"
    assert "cannot replace it: Used after delivery." in message.body
    assert list(Notification.objects.order_by("id").values_list("kind", "state")) == [
        ("request_received", "sent"),
        ("request_update", "skipped"),
    ]


def test_a_fresh_link_finds_the_order_whatever_the_case_and_spaces(
    django_capture_on_commit_callbacks,
) -> None:
    order = make_order(order_id="D1040")

    with django_capture_on_commit_callbacks(execute=True):
        assert order_link_request(order_id="D104", now=timezone.now()) is False
        assert order_link_request(order_id="  d1040 ", now=timezone.now()) is True

    [message] = mail.outbox
    assert message.subject == "Your link to order D1040" and message.to == [order.email]
    link_in(message.body)
