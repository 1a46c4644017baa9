from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compensation.events import CompensationEvent
from compensation.models import Decision, Notification, ReplacementBatch
from compensation.services import fulfilment
from compensation.services.fulfilment import batches_fulfil, batches_sweep, fulfilment_wake
from inventory.importing import stock_import
from inventory.models import Account, Event, Product
from inventory.services import AllocationConflict

from .emails import send_due
from .factories.compensation import acknowledged, request_with_decisions, waiting_batch
from .factories.inventory import make_accounts, make_product
from .factories.orders import delivered_line

pytestmark = pytest.mark.django_db


def _stock(product: Product, n: int) -> list[Account]:
    return make_accounts(n, product=product)


def _given(batch: ReplacementBatch) -> list[int]:
    return list(
        Account.objects.filter(replacement_batch=batch).order_by("id").values_list("id", flat=True)
    )


def test_a_batch_that_fits_is_delivered_on_its_line_as_compensation() -> None:
    product = make_product()
    stock = _stock(product, 3)
    batch = waiting_batch(product=product, quantity=2)
    ack = acknowledged(batch.request)
    now = timezone.now()

    assert batches_fulfil(product_id=product.id, now=now) == 1

    batch.refresh_from_db()
    assert (batch.state, batch.delivered_at) == ("delivered", now)
    assert list(
        Account.objects.filter(line=batch.line).values_list(
            "id", "state", "delivery_kind", "replacement_batch_id", "delivered_at"
        )
    ) == [
        (stock[0].id, "delivered", "compensation", batch.id, now),
        (stock[1].id, "delivered", "compensation", batch.id, now),
    ]
    assert Account.objects.get(id=stock[2].id).state == "in_stock"
    event = Event.objects.get(kind=CompensationEvent.BATCH_DELIVERED)
    assert (event.batch_id, event.order_id, event.request_id) == (
        batch.id,
        batch.line.order_id,
        batch.request_id,
    )
    assert event.data["account_ids"] == [stock[0].id, stock[1].id]
    # The customer hears of it in one update e-mail, composed when it is sent.
    assert list(Notification.objects.values_list("kind", "state", "next_attempt_at")) == [
        ("request_received", "sent", None),
        ("request_update", "queued", now + timedelta(seconds=15)),
    ]
    assert Notification.objects.filter(key=ack.key).exists()


def test_short_stock_waits_takes_nothing_and_emails_once_even_when_drained_twice(
    django_capture_on_commit_callbacks,
) -> None:
    product = make_product()
    _stock(product, 2)
    now = timezone.now()
    line = delivered_line(quantity=3, product=product)
    request = request_with_decisions(
        line=line, decisions=[(Decision.APPROVED, "locked_no_interaction")] * 3, now=now
    )
    batch = ReplacementBatch.objects.get(request=request)
    acknowledged(request)

    with django_capture_on_commit_callbacks(execute=True):
        assert batches_fulfil(product_id=product.id, now=now) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert batches_fulfil(product_id=product.id, now=now + timedelta(minutes=5)) == 0
    batches_sweep(now=now + timedelta(minutes=10))
    for minutes in (11, 12):
        send_due(now=now + timedelta(minutes=minutes))

    batch.refresh_from_db()
    assert (batch.state, batch.unavailable_notified_at) == ("waiting", now)
    assert Account.objects.filter(state="in_stock", product=product).count() == 2
    assert list(Notification.objects.values_list("kind", flat=True)) == [
        "request_received",
        "request_update",
    ]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [batch.line.order.email]
    assert mail.outbox[0].subject == (
        f"Your replacement for order {line.order.order_id} is approved and waiting for stock"
    )
    assert (
        Event.objects.filter(kind=CompensationEvent.BATCH_WAITING, batch_id=batch.id).count() == 1
    )
    assert not Event.objects.filter(kind=CompensationEvent.BATCH_DELIVERED).exists()


def test_an_import_of_stock_wakes_fulfilment(django_capture_on_commit_callbacks) -> None:

    product = make_product(sku="IG-AGED")
    batch = waiting_batch(product=product, quantity=2)
    csv = b"sku,username,password\nIG-AGED,fresh_one,pw1\nIG-AGED,fresh_two,pw2\n"

    with django_capture_on_commit_callbacks(execute=True):
        report = stock_import(
            source=io.BytesIO(csv), filename="stock.csv", actor=None, now=timezone.now()
        )

    assert report.created == 2 and not report.errors
    batch.refresh_from_db()
    assert batch.state == "delivered"
    assert sorted(
        Account.objects.filter(replacement_batch=batch).values_list("username", flat=True)
    ) == ["fresh_one", "fresh_two"]


def test_fifo_holds_even_when_a_later_smaller_batch_would_fit() -> None:
    product = make_product()
    _stock(product, 2)
    t0 = timezone.now() - timedelta(hours=1)
    big = waiting_batch(product=product, quantity=3, approved_at=t0)
    small = waiting_batch(product=product, quantity=1, approved_at=t0 + timedelta(seconds=1))

    assert batches_fulfil(product_id=product.id, now=timezone.now()) == 0
    assert set(ReplacementBatch.objects.values_list("state", flat=True)) == {"waiting"}
    assert Account.objects.filter(state="in_stock").count() == 2

    _stock(product, 1)  # 3 free: the big one first, the small one keeps waiting
    assert batches_fulfil(product_id=product.id, now=timezone.now()) == 1
    big.refresh_from_db()
    small.refresh_from_db()
    assert (big.state, small.state) == ("delivered", "waiting")
    assert len(_given(big)) == 3 and _given(small) == []

    _stock(product, 1)
    assert batches_fulfil(product_id=product.id, now=timezone.now()) == 1
    small.refresh_from_db()
    assert small.state == "delivered" and len(_given(small)) == 1


def test_same_approval_time_is_served_by_id() -> None:
    product = make_product()
    _stock(product, 1)
    at = timezone.now()
    first = waiting_batch(product=product, quantity=1, approved_at=at)
    second = waiting_batch(product=product, quantity=1, approved_at=at)

    assert batches_fulfil(product_id=product.id, now=at) == 1
    assert ReplacementBatch.objects.get(id=first.id).state == "delivered"
    assert ReplacementBatch.objects.get(id=second.id).state == "waiting"


def test_nothing_is_taken_from_another_product() -> None:
    wanted, other = make_product(), make_product()
    other_stock = _stock(other, 5)
    batch = waiting_batch(product=wanted, quantity=1)

    assert batches_fulfil(product_id=wanted.id, now=timezone.now()) == 0
    assert batches_sweep(now=timezone.now()) == 0

    assert ReplacementBatch.objects.get(id=batch.id).state == "waiting"
    assert list(
        Account.objects.filter(product=other, state="in_stock").values_list("id", flat=True)
    ) == [a.id for a in other_stock]


def test_drained_twice_a_batch_never_gets_more_than_it_is_owed() -> None:
    product = make_product()
    _stock(product, 10)
    batch = waiting_batch(product=product, quantity=3)
    acknowledged(batch.request)
    now = timezone.now()

    assert batches_fulfil(product_id=product.id, now=now) == 1
    assert batches_fulfil(product_id=product.id, now=now) == 0  # the task delivered again
    batches_sweep(now=now)

    assert len(_given(batch)) == 3
    assert Account.objects.filter(state="in_stock").count() == 7
    assert Event.objects.filter(kind=CompensationEvent.BATCH_DELIVERED).count() == 1
    assert Notification.objects.filter(kind="request_update").count() == 1


def test_the_compare_and_set_refuses_an_account_that_is_not_free() -> None:
    product = make_product()
    free, taken = _stock(product, 2)
    other_batch = waiting_batch(product=product, quantity=1)
    Account.objects.filter(id=taken.id).update(
        state="delivered", line=other_batch.line, delivered_at=timezone.now(), delivery_kind="sale"
    )
    batch = waiting_batch(product=product, quantity=2)
    grant = fulfilment._Grant(
        batch_id=batch.id, line_id=batch.line_id, account_ids=[free.id, taken.id]
    )

    with pytest.raises(AllocationConflict):
        fulfilment.accounts_mark_delivered_many(grants=[grant], now=timezone.now())


def test_the_sweep_serves_a_batch_whose_wake_up_was_missed() -> None:
    product = make_product()
    batch = waiting_batch(product=product, quantity=2)
    _stock(product, 2)  # stock added by hand, no wake-up queued

    assert ReplacementBatch.objects.get(id=batch.id).state == "waiting"
    assert batches_sweep(now=timezone.now()) == 1
    assert ReplacementBatch.objects.get(id=batch.id).state == "delivered"
    assert len(_given(batch)) == 2


def test_a_crash_in_the_middle_of_a_drain_loses_nothing_and_the_sweep_serves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p1, p2, p3 = make_product(), make_product(), make_product()
    _stock(p1, 4)
    _stock(p2, 1)
    b1 = waiting_batch(product=p1, quantity=2)
    b2 = waiting_batch(product=p1, quantity=2)
    b3 = waiting_batch(product=p2, quantity=1)
    b4 = waiting_batch(product=p3, quantity=1)  # no stock at all
    real = fulfilment.accounts_mark_delivered_many

    def crash(**kwargs):
        real(**kwargs)  # accounts claimed and marked…
        raise SystemExit("worker killed")  # …then the worker dies before commit

    monkeypatch.setattr(fulfilment, "accounts_mark_delivered_many", crash)
    with pytest.raises(SystemExit):
        batches_fulfil(product_id=p1.id, now=timezone.now())

    assert set(ReplacementBatch.objects.values_list("state", flat=True)) == {"waiting"}
    assert Account.objects.filter(state="in_stock").count() == 5
    assert not Event.objects.filter(kind=CompensationEvent.BATCH_DELIVERED).exists()
    assert not Notification.objects.exists()

    monkeypatch.setattr(fulfilment, "accounts_mark_delivered_many", real)
    assert batches_sweep(now=timezone.now()) == 3
    states = dict(ReplacementBatch.objects.values_list("id", "state"))
    assert states == {b1.id: "delivered", b2.id: "delivered", b3.id: "delivered", b4.id: "waiting"}
    assert Account.objects.filter(state="in_stock").count() == 0


def test_wake_queues_one_drain_per_product_with_waiting_batches_after_commit(
    django_capture_on_commit_callbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr("compensation.queueing.async_task", lambda *a, **k: calls.append(a))
    with_batch, without = make_product(), make_product()
    waiting_batch(product=with_batch, quantity=1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fulfilment_wake(product_ids=[with_batch.id, without.id, with_batch.id])
    assert calls == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert calls == [("compensation.tasks.fulfil_product", with_batch.id)]


def test_one_drain_serves_every_waiting_batch_and_the_later_wake_ups_end_after_one_query() -> None:
    """A burst approves many batches, each approval queueing a wake-up: the first drain serves
    them all, the others find nothing to do and take no lock."""
    product = make_product()
    _stock(product, 4)
    batches = [waiting_batch(product=product, quantity=1) for _ in range(4)]

    assert batches_fulfil(product_id=product.id, now=timezone.now()) == 4
    for _ in batches[1:]:
        with CaptureQueriesContext(connection) as queries:
            assert batches_fulfil(product_id=product.id, now=timezone.now()) == 0
        assert len(queries.captured_queries) == 1
    assert set(ReplacementBatch.objects.values_list("state", flat=True)) == {"delivered"}
