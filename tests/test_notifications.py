"""Customer e-mails: one per event, only after commit, plain text + HTML."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from compensation.events import CompensationEvent
from compensation.models import Decision, Notification, ReplacementBatch
from compensation.services import notifications
from compensation.services.notifications import notification_send, notify
from compensation.tasks import send_notification
from inventory.models import Account, Event
from orders.links import order_link_resolve

from .emails import link_in
from .factories.compensation import deliver_replacement, request_with_decisions
from .factories.orders import delivered_line, make_order


def _request(*, decisions=None):
    line = delivered_line(quantity=2, order=make_order(order_id="A8000", email="buyer@example.com"))
    return request_with_decisions(
        line=line,
        decisions=decisions
        or [
            (Decision.APPROVED, "locked_no_interaction"),
            (Decision.MANUAL_REVIEW, "suspended_no_interaction"),
        ],
    )


def _html(message: Any) -> str:
    assert len(message.alternatives) == 1
    content, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    return str(content)


@pytest.mark.django_db
def test_request_received_is_sent_once_even_if_notify_and_the_task_run_twice(
    django_capture_on_commit_callbacks,
) -> None:
    request = _request()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = notifications.notify_request_received(request=request)
        again = notifications.notify_request_received(request=request)
    assert first is not None and again is None
    assert len(callbacks) == 1
    send_notification(first.pk)  # the task delivered a second time
    assert notification_send(notification_id=first.pk) is False

    assert len(mail.outbox) == 1
    assert Notification.objects.count() == 1
    assert Event.objects.filter(kind=CompensationEvent.EMAIL_SENT).count() == 1
    first.refresh_from_db()
    assert first.sent_at is not None


@pytest.mark.django_db
def test_request_received_has_text_and_html_with_the_summary(
    django_capture_on_commit_callbacks,
) -> None:
    request = _request()
    usernames = list(
        Account.objects.filter(line__order=request.order).values_list("username", flat=True)
    )

    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_request_received(request=request)

    [message] = mail.outbox
    html = _html(message)
    assert message.to == ["buyer@example.com"]
    assert message.subject == "We received your compensation request for order A8000"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    for body in (message.body, html):
        assert f"/requests/{request.pk}/" in body
        for username in usernames:
            assert username in body
            assert f"pw-{username}" not in body  # never a credential
        assert "Approved" in body and "A person will review" in body
    assert "<html" not in message.body and "<html" in html
    assert "The account is locked and was not used after delivery." in message.body


@pytest.mark.django_db
def test_nothing_is_sent_when_the_transaction_rolls_back(
    django_capture_on_commit_callbacks,
) -> None:
    request = _request()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notifications.notify_sent_to_review(request=request)
        raise RuntimeError("the service failed after notifying")

    assert callbacks == []
    assert mail.outbox == []
    assert Notification.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_sent_only_after_commit_with_real_transactions() -> None:
    request = _request()

    with pytest.raises(RuntimeError), transaction.atomic():
        notifications.notify_sent_to_review(request=request)
        raise RuntimeError("rolled back")
    assert mail.outbox == [] and Notification.objects.count() == 0

    with transaction.atomic():
        notifications.notify_sent_to_review(request=request)
        assert mail.outbox == []  # not before the commit
    assert [m.subject for m in mail.outbox] == [
        "A person will review part of your request for order A8000"
    ]
    # The same event reported again by a twin task: nothing more.
    with transaction.atomic():
        assert notifications.notify_sent_to_review(request=request) is None
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_unavailable_is_sent_once_per_batch(django_capture_on_commit_callbacks) -> None:
    request = _request()
    batch = request.batches.get()
    other = _second_batch(request)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            notifications.notify_unavailable(batch=batch)
        notifications.notify_unavailable(batch=other)

    assert len(mail.outbox) == 2
    message = mail.outbox[0]
    assert message.subject == "Your replacement for order A8000 is currently unavailable"
    assert "currently unavailable" in message.body and "when stock arrives" in message.body
    assert "when stock arrives" in _html(message)
    assert list(
        Event.objects.filter(kind=CompensationEvent.EMAIL_SENT).values_list("batch_id", flat=True)
    ) == [batch.pk, other.pk]


def _second_batch(request) -> ReplacementBatch:
    line = delivered_line(order=request.order)
    return ReplacementBatch.objects.create(
        line=line, product=line.product, request=request, quantity=1, approved_at=timezone.now()
    )


@pytest.mark.django_db
def test_delivered_carries_a_working_order_link_and_no_token_is_stored(
    django_capture_on_commit_callbacks, client, settings
) -> None:
    request = _request()
    batch = request.batches.get()
    deliver_replacement(batch=batch)

    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_delivered(batch=batch)
        notifications.notify_delivered(batch=batch)

    [message] = mail.outbox
    url = link_in(message.body)
    assert f'href="{url}"' in _html(message)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert order_link_resolve(token=token, now=timezone.now()) is not None
    page = client.get(url.replace(settings.SITE_URL, ""))
    assert "Compensate Product" in page.content.decode()
    # The token is nowhere in the database: not in events, not in the notification.
    assert not any(token in str(e.data) + e.message for e in Event.objects.all())
    assert token not in Notification.objects.get().key


@pytest.mark.django_db
def test_review_outcome_once_per_staff_decision(django_capture_on_commit_callbacks) -> None:
    request = _request(
        decisions=[
            (Decision.REJECTED, "suspended_no_interaction"),
            (Decision.REJECTED, "suspended_one_interaction"),
        ]
    )
    ids = list(request.decisions.order_by("id").values_list("id", flat=True))
    request.decisions.update(reviewed=True, customer_message="Our team found the account in use.")

    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_review_outcome(decision_ids=ids, request=request)
        notifications.notify_review_outcome(decision_ids=list(reversed(ids)), request=request)
        notifications.notify_review_outcome(decision_ids=[], request=request)

    [message] = mail.outbox
    assert message.subject == "Our team reviewed your request for order A8000"
    assert "Our team found the account in use." in message.body
    assert "Our team found the account in use." in _html(message)

    # Another decision on the same accounts (an override) is another event: one more e-mail.
    request.decisions.filter(pk=ids[0]).update(decision=Decision.MANUAL_REVIEW)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_review_outcome(decision_ids=ids, request=request)
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_failed_send_is_released_for_the_retry(monkeypatch) -> None:
    request = _request()
    notification = notify(
        kind="sent_to_review", key="sent_to_review:x", order=request.order, request=request
    )
    assert notification is not None

    def boom(self, fail_silently=False):
        raise ConnectionError("SMTP down")

    with monkeypatch.context() as patch:
        patch.setattr(EmailMultiAlternatives, "send", boom)
        with pytest.raises(ConnectionError):
            notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.sent_at is None
    assert not Event.objects.filter(kind=CompensationEvent.EMAIL_SENT).exists()

    assert notification_send(notification_id=notification.pk) is True
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        notify(kind="newsletter", key="k", order=make_order())
    assert Notification.objects.count() == 0
