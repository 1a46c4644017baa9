"""The e-mail outbox against a real SMTP server on 127.0.0.1: marked sent only once the server
accepted the message; temporary failures retried with back-off; permanent ones and the last
retry end as "failed" with an event; interrupted sends taken back by the sweep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from compensation.models import CompensationRequest, Notification
from compensation.services import email_schedule, outbox
from compensation.services.email_schedule import notifications_queue_send
from compensation.services.notifications import notify
from compensation.services.outbox import (
    message_id_for,
    notification_send,
    notifications_send,
    notifications_send_due,
)
from compensation.tasks import send_notifications
from inventory.models import Event
from orders.models import Order
from tests.doubles.smtp_server import Accept, Drop, Reply, SmtpDouble, Stall

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpDouble]:
    with SmtpDouble() as double:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = double.host, double.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 0.5
        settings.EMAIL_RETRY_DELAYS = [60, 300]
        settings.EMAIL_SENDING_STALE_SECONDS = 120
        yield double


def _notification(key: str = "order_link:test") -> Notification:
    order = Order.objects.create(
        order_id="M-1", email="owner@example.com", placed_at=timezone.now() - timedelta(days=1)
    )
    notification = notify(kind="order_link", key=key, order=order)
    assert notification is not None
    return notification


def _state(notification: Notification) -> tuple[str, int]:
    notification.refresh_from_db()
    return notification.state, notification.attempts


def _due(notification: Notification) -> Any:
    notification.refresh_from_db()
    assert notification.next_attempt_at is not None
    return notification.next_attempt_at + timedelta(seconds=1)


def test_marked_sent_once_accepted_with_a_message_id_derived_from_the_notification(
    smtp: SmtpDouble,
) -> None:
    notification = _notification()
    assert notification_send(notification_id=notification.pk) is True
    assert smtp.message_ids() == [message_id_for(notification)]
    assert smtp.accepted[0].recipients == ("owner@example.com",)
    assert _state(notification) == ("sent", 1)
    assert notification.sent_at is not None
    sent = Event.objects.get(kind="email_sent")
    assert sent.data["message_id"] == message_id_for(notification)
    assert notification_send(notification_id=notification.pk) is False  # a twin task
    assert len(smtp.accepted) == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Reply(451), "SMTP 451 refused by the test double"),
        (Reply(421, at="greeting"), "SMTP 421 refused by the test double"),
        (Drop("greeting"), "SMTPServerDisconnected"),
        (Drop("data"), "SMTPServerDisconnected"),
        (Stall(3), "SMTPServerDisconnected: Connection unexpectedly closed: timed out"),
    ],
    ids=["451", "421-greeting", "drop-greeting", "drop-data", "stall"],
)
def test_a_temporary_failure_is_retried_after_its_back_off(
    smtp: SmtpDouble, fault: Any, error: str
) -> None:
    smtp.plan = [fault]
    notification = _notification()
    assert notification_send(notification_id=notification.pk) is False
    assert _state(notification) == ("queued", 1)
    assert notification.sent_at is None
    assert notification.last_error.startswith(error)
    assert smtp.accepted == []
    assert not Event.objects.filter(kind="email_sent").exists()

    assert notification_send(notification_id=notification.pk) is False  # not due yet
    assert notification_send(notification_id=notification.pk, now=_due(notification)) is True
    assert _state(notification) == ("sent", 2)
    assert smtp.message_ids() == [message_id_for(notification)]


def test_a_permanent_refusal_fails_at_once_and_is_recorded(smtp: SmtpDouble) -> None:
    smtp.plan = [Reply(550, at="rcpt")]
    notification = _notification()
    assert notification_send(notification_id=notification.pk) is False
    assert _state(notification) == ("failed", 1)
    assert notification.failed_at is not None and notification.sent_at is None
    assert notification.last_error == "recipient refused (550)"
    failed = Event.objects.get(kind="email_failed")
    assert failed.order_id == notification.order_id
    assert failed.data["attempts"] == 1
    assert smtp.accepted == []


def test_after_the_last_retry_the_e_mail_is_failed_not_dropped(smtp: SmtpDouble) -> None:
    smtp.default = Reply(451)
    notification = _notification()
    now = timezone.now()
    for attempt in (1, 2, 3):  # two delays configured: three attempts
        assert notification_send(notification_id=notification.pk, now=now) is False
        state, attempts = _state(notification)
        assert attempts == attempt
        if attempt < 3:
            assert state == "queued"
            now = _due(notification)
    assert state == "failed"
    assert Event.objects.filter(kind="email_failed").count() == 1
    assert notification_send(notification_id=notification.pk, now=now + timedelta(days=1)) is False
    assert smtp.accepted == []


def test_the_sweep_resends_a_send_interrupted_long_ago_and_leaves_a_running_one(
    smtp: SmtpDouble, django_capture_on_commit_callbacks: Any
) -> None:
    old = _notification("order_link:old")
    assert old.order is not None
    running = notify(kind="order_link", key="order_link:running", order=old.order)
    assert running is not None
    now = timezone.now()
    Notification.objects.filter(pk=old.pk).update(
        state="sending", sending_since=now - timedelta(seconds=121), attempts=1
    )
    Notification.objects.filter(pk=running.pk).update(
        state="sending", sending_since=now - timedelta(seconds=5), attempts=1
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_send_due(now=now) == 1
    assert _state(old) == ("sent", 2)
    assert _state(running) == ("sending", 1)
    assert smtp.message_ids() == [message_id_for(old)]


def test_the_sweep_sends_a_queued_e_mail_whose_task_was_lost(
    smtp: SmtpDouble, django_capture_on_commit_callbacks: Any
) -> None:
    notification = _notification()
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_send_due(now=now) == 0  # just created: its own task is on the way
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_send_due(now=now + timedelta(seconds=61)) == 1
    assert _state(notification) == ("sent", 1)


def test_a_message_the_server_got_but_never_acknowledged_comes_again_with_the_same_id(
    smtp: SmtpDouble,
) -> None:
    """The one duplicate SMTP allows: the server had the message when the connection dropped.
    The copy carries the same Message-ID, so the customer's mail client shows one message."""
    smtp.plan = [Drop("after_data"), Accept()]
    notification = _notification()
    assert notification_send(notification_id=notification.pk) is False
    assert notification_send(notification_id=notification.pk, now=_due(notification)) is True
    assert [m.message_id for m in smtp.unacknowledged] == smtp.message_ids()
    assert smtp.message_ids() == [message_id_for(notification)]


def test_staff_see_e_mail_failed_on_the_request(smtp: SmtpDouble, admin_client: Any) -> None:
    smtp.plan = [Reply(550)]
    order = Order.objects.create(
        order_id="M-2", email="owner@example.com", placed_at=timezone.now() - timedelta(days=1)
    )
    failing = CompensationRequest.objects.create(
        order=order,
        email=order.email,
        reason="locked",
        password_change_warning=False,
        received_at=timezone.now(),
        status="decided",
    )
    notification = notify(
        kind="sent_to_review", key=f"sent_to_review:{failing.pk}", order=order, request=failing
    )
    assert notification is not None
    assert notification_send(notification_id=notification.pk) is False

    listing = admin_client.get("/admin/compensation/compensationrequest/?email_failed=yes")
    assert listing.status_code == 200
    assert listing.content.decode().count("E-mail failed") >= 2  # the filter and the row
    assert str(failing.pk) in listing.content.decode()
    page = admin_client.get(f"/admin/compensation/compensationrequest/{failing.pk}/change/")
    body = page.content.decode()
    assert "E-mail failed" in body and "SMTP 550 refused by the test double" in body


# --- one send task, many e-mails (outbox.notifications_send) ---------------------------------


def _links(count: int) -> list[Notification]:
    order = Order.objects.create(
        order_id="M-9", email="owner@example.com", placed_at=timezone.now() - timedelta(days=1)
    )
    rows = [notify(kind="order_link", key=f"order_link:{i}", order=order) for i in range(count)]
    assert all(rows)
    return [row for row in rows if row is not None]


def test_one_task_sends_every_due_e_mail_once_over_one_connection(smtp: SmtpDouble) -> None:
    first, second, third, later = _links(4)
    Notification.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )

    assert notifications_send(notification_ids=[second.pk]) == 3

    assert smtp.message_ids() == [message_id_for(n) for n in (first, second, third)]
    assert smtp.outcomes() == {"quit": 1}  # one connection for the three
    assert [_state(n) for n in (first, second, third, later)] == [
        ("sent", 1),
        ("sent", 1),
        ("sent", 1),
        ("queued", 0),
    ]
    assert Event.objects.filter(kind="email_sent").count() == 3
    # The tasks of the other rows, and a twin: nothing is sent twice.
    assert notifications_send(notification_ids=[first.pk, third.pk]) == 0
    assert send_notifications([second.pk]) == 0
    assert len(smtp.accepted) == 3


def test_a_refused_e_mail_is_retried_alone_and_the_rest_go_on_a_fresh_connection(
    smtp: SmtpDouble,
) -> None:
    smtp.plan = [Reply(451), Accept()]
    first, second, third = _links(3)

    assert notifications_send(notification_ids=[first.pk, second.pk, third.pk]) == 2

    assert _state(first) == ("queued", 1)
    assert first.last_error.startswith("SMTP 451")
    assert first.next_attempt_at is not None and first.next_attempt_at > timezone.now()
    assert [_state(n) for n in (second, third)] == [("sent", 1), ("sent", 1)]
    assert smtp.message_ids() == [message_id_for(second), message_id_for(third)]
    assert smtp.outcomes() == {"replied:451": 1, "quit": 1}


def test_an_e_mail_that_cannot_be_composed_fails_alone(
    smtp: SmtpDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, broken, third = _links(3)
    real = outbox.notification_message

    def together(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("template error")

    def alone(notification: Notification, *, now: Any) -> Any:
        if notification.pk == broken.pk:
            raise RuntimeError("template error")
        return real(notification, now=now)

    monkeypatch.setattr(outbox, "notification_messages", together)
    monkeypatch.setattr(outbox, "notification_message", alone)

    assert notifications_send(notification_ids=[first.pk, broken.pk, third.pk]) == 2

    assert _state(broken) == ("queued", 1)
    assert broken.last_error == "RuntimeError: template error"
    assert smtp.message_ids() == [message_id_for(first), message_id_for(third)]


def test_e_mails_due_together_are_queued_as_one_task_per_batch(
    queued: list[tuple[str, tuple[Any, ...]]],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(email_schedule, "SEND_BATCH", 2)
    with django_capture_on_commit_callbacks(execute=True):
        notifications_queue_send([5, 3, 4])
    assert queued == [
        ("compensation.tasks.send_notifications", ([3, 4],)),
        ("compensation.tasks.send_notifications", ([5],)),
    ]
