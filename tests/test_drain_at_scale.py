"""The drain at the size of a real shop (issue 12): its e-mails written with one insert and sent
by one task; a wake-up that cannot serve the first waiting batch costs one query."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compensation import tasks
from compensation.models import Notification, ReplacementBatch
from compensation.services import notifications_bulk
from compensation.services.fulfilment import batches_fulfil
from compensation.services.notifications_bulk import notifications_send_many
from inventory.models import Account

from .factories.compensation import waiting_batch
from .factories.inventory import make_accounts, make_product

pytestmark = pytest.mark.django_db

SEND_MANY = "compensation.tasks.send_notifications"


def _queue(product: Any, quantities: list[int]) -> list[ReplacementBatch]:
    start = timezone.now() - timedelta(hours=1)
    return [
        waiting_batch(product=product, quantity=q, approved_at=start + timedelta(seconds=i))
        for i, q in enumerate(quantities)
    ]


def test_a_drain_writes_every_email_at_once_and_queues_one_task_for_them(
    queued: list[tuple[str, tuple[Any, ...]]], django_capture_on_commit_callbacks: Any
) -> None:
    product = make_product()
    batches = _queue(product, [1, 2, 1, 5, 1])  # stock for the first three; the 4th stops it
    make_accounts(4, product=product)

    with django_capture_on_commit_callbacks(execute=True):
        served = batches_fulfil(product_id=product.pk, now=timezone.now())

    assert served == 3
    keys = set(Notification.objects.values_list("key", flat=True))
    assert keys == {f"delivered:{b.pk}" for b in batches[:3]} | {
        f"unavailable:{b.pk}" for b in batches[3:]
    }
    sends = [args for path, args in queued if path.startswith("compensation.tasks.send_")]
    assert [path for path, _ in queued if path.startswith("compensation.tasks.send_")] == [
        SEND_MANY
    ]
    (ids,) = sends[0]
    assert sorted(ids) == sorted(Notification.objects.values_list("pk", flat=True))

    assert tasks.send_notifications(ids) == 5
    assert len(mail.outbox) == 5
    assert not Notification.objects.filter(sent_at__isnull=True).exists()


def test_a_second_drain_writes_and_queues_no_email_again(
    queued: list[tuple[str, tuple[Any, ...]]], django_capture_on_commit_callbacks: Any
) -> None:
    product = make_product()
    _queue(product, [1, 3])
    make_accounts(1, product=product)
    with django_capture_on_commit_callbacks(execute=True):
        batches_fulfil(product_id=product.pk, now=timezone.now())
    tasks.send_notifications([n.pk for n in Notification.objects.all()])
    before = list(Notification.objects.order_by("pk").values_list("pk", "key", "sent_at"))
    queued.clear()

    make_accounts(1, product=product)  # still short of the waiting batch of 3
    with django_capture_on_commit_callbacks(execute=True):
        served = batches_fulfil(product_id=product.pk, now=timezone.now())

    assert served == 0
    assert list(Notification.objects.order_by("pk").values_list("pk", "key", "sent_at")) == before
    assert queued == []


def test_a_wake_up_that_cannot_serve_the_first_batch_is_one_query_and_changes_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    product = make_product()
    batches = _queue(product, [5, 1, 1])  # the head needs 5; later ones would fit but must wait
    ReplacementBatch.objects.update(unavailable_notified_at=timezone.now())  # all were told
    make_accounts(4, product=product)
    before = list(ReplacementBatch.objects.order_by("pk").values_list("pk", "state"))

    with CaptureQueriesContext(connection) as captured:
        served = batches_fulfil(product_id=product.pk, now=timezone.now())

    assert served == 0
    assert len(captured.captured_queries) == 1
    assert list(ReplacementBatch.objects.order_by("pk").values_list("pk", "state")) == before
    assert Account.objects.filter(product=product, state="in_stock").count() == 4
    assert batches[0].state == "waiting"


def test_a_wake_up_still_tells_a_new_waiting_batch_that_stock_is_short(
    queued: list[tuple[str, tuple[Any, ...]]], django_capture_on_commit_callbacks: Any
) -> None:
    product = make_product()
    (batch,) = _queue(product, [3])

    with django_capture_on_commit_callbacks(execute=True):
        batches_fulfil(product_id=product.pk, now=timezone.now())

    batch.refresh_from_db()
    assert batch.unavailable_notified_at is not None
    assert list(Notification.objects.values_list("key", flat=True)) == [f"unavailable:{batch.pk}"]


def test_one_failing_email_does_not_hold_back_the_others(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    product = make_product()
    _queue(product, [1, 1, 1])
    make_accounts(3, product=product)
    with django_capture_on_commit_callbacks(execute=False):
        batches_fulfil(product_id=product.pk, now=timezone.now())
    ids = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    real_send = notifications_bulk.notification_send

    def send(*, notification_id: int) -> bool:
        if notification_id == ids[1]:
            raise ConnectionRefusedError("mail server down")
        return real_send(notification_id=notification_id)

    monkeypatch.setattr(notifications_bulk, "notification_send", send)

    with pytest.raises(RuntimeError, match="1 of 3 e-mails not sent"):
        notifications_send_many(notification_ids=ids)

    unsent = Notification.objects.filter(sent_at__isnull=True).values_list("pk", flat=True)
    assert list(unsent) == [ids[1]]
    assert len(mail.outbox) == 2
    monkeypatch.setattr(notifications_bulk, "notification_send", real_send)
    assert notifications_send_many(notification_ids=ids) == 1  # the retry sends what is left
    assert len(mail.outbox) == 3
