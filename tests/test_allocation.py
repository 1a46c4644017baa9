from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.events import InventoryEvent
from inventory.models import Account, Event
from inventory.services import accounts_allocate

from .factories.inventory import AccountFactory, ProductFactory
from .factories.orders import OrderLineFactory

pytestmark = pytest.mark.django_db


def test_allocate_takes_lowest_ids_and_records_an_event() -> None:
    product = ProductFactory.create()
    stock = AccountFactory.create_batch(3, product=product)
    line = OrderLineFactory.create(product=product, quantity=2)
    now = timezone.now()

    ids = accounts_allocate(
        product_id=product.id,
        line_id=line.id,
        order_id=line.order_id,
        quantity=2,
        kind="sale",
        now=now,
    )

    assert ids == [stock[0].id, stock[1].id]
    assert list(Account.objects.filter(line=line).values_list("id", "state", "delivery_kind")) == [
        (stock[0].id, "delivered", "sale"),
        (stock[1].id, "delivered", "sale"),
    ]
    event = Event.objects.get(kind=InventoryEvent.ACCOUNTS_DELIVERED)
    assert event.data["account_ids"] == ids and event.order_id == line.order_id


def test_allocate_more_than_stock_takes_nothing() -> None:
    product = ProductFactory.create()
    AccountFactory.create_batch(2, product=product)
    AccountFactory.create_batch(5, product=ProductFactory.create())  # another product's stock
    line = OrderLineFactory.create(product=product, quantity=3)

    ids = accounts_allocate(
        product_id=product.id,
        line_id=line.id,
        order_id=line.order_id,
        quantity=3,
        kind="sale",
        now=timezone.now(),
    )

    assert ids == []
    assert Account.objects.filter(state="in_stock").count() == 7
    assert not Event.objects.exists()


def test_allocation_stock_can_never_cover_locks_no_row() -> None:
    """Locked rows are skipped by concurrent allocations: a line that the whole stock could not
    fill must not hold any (they would see the stock short while it is not)."""
    product = ProductFactory.create()
    AccountFactory.create_batch(2, product=product)
    line = OrderLineFactory.create(product=product, quantity=3)

    with CaptureQueriesContext(connection) as captured:
        ids = accounts_allocate(
            product_id=product.id,
            line_id=line.id,
            order_id=line.order_id,
            quantity=3,
            kind="sale",
            now=timezone.now(),
        )

    assert ids == []
    assert [q["sql"] for q in captured.captured_queries if "FOR UPDATE" in q["sql"]] == []
    assert Account.objects.filter(product=product, state="in_stock").count() == 2


def test_allocate_rejects_non_positive_quantity() -> None:
    line = OrderLineFactory.create()
    with pytest.raises(ValueError):
        accounts_allocate(
            product_id=line.product_id,
            line_id=line.id,
            order_id=line.order_id,
            quantity=0,
            kind="sale",
            now=timezone.now(),
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_threads_allocating_the_same_product_never_share_an_account() -> None:
    product = ProductFactory.create()
    AccountFactory.create_batch(20, product=product)
    lines = [OrderLineFactory.create(product=product, quantity=3) for _ in range(8)]
    greedy = OrderLineFactory.create(product=product, quantity=21)  # more than the whole stock
    barrier = threading.Barrier(9)
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def worker(line_id: int, order_id: int, quantity: int) -> None:
        try:
            barrier.wait()
            results[line_id] = accounts_allocate(
                product_id=product.id,
                line_id=line_id,
                order_id=order_id,
                quantity=quantity,
                kind="sale",
                now=timezone.now(),
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=worker, args=(ln.id, ln.order_id, ln.quantity))
        for ln in [*lines, greedy]
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert results[greedy.id] == []
    given = [i for line in lines for i in results[line.id]]
    assert len(given) == len(set(given))
    served = [line for line in lines if results[line.id]]
    # 20 accounts serve at most six lines of 3 (SKIP LOCKED may make a thread see fewer free rows
    # while others hold theirs: it then takes nothing, never a part). The greedy line locks
    # nothing, so the first thread to look sees all 20 free and is served.
    assert 1 <= len(served) <= 6 and all(len(results[ln.id]) == 3 for ln in served)
    assert Account.objects.filter(state="delivered").count() == 3 * len(served)
    assert Account.objects.filter(state="in_stock").count() == 20 - 3 * len(served)
    for line in lines:
        assert sorted(
            Account.objects.filter(line_id=line.id).values_list("id", flat=True)
        ) == sorted(results[line.id])
    assert connection.vendor == "postgresql"
