"""The drain at the size of a real shop (issue 12): its statements do not grow with the batches
it serves (e-mails included), and a wake-up that cannot serve the first waiting batch costs one
query and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compensation.models import Notification, ReplacementBatch
from compensation.services.fulfilment import batches_fulfil
from inventory.models import Account

from .factories.compensation import waiting_batch
from .factories.inventory import make_accounts, make_product

pytestmark = pytest.mark.django_db


def _queue(product: Any, quantities: list[int]) -> list[ReplacementBatch]:
    start = timezone.now() - timedelta(hours=1)
    return [
        waiting_batch(product=product, quantity=q, approved_at=start + timedelta(seconds=i))
        for i, q in enumerate(quantities)
    ]


def _drain_statements(batches: int, short: int) -> tuple[int, int]:
    """(statements, e-mail rows) of one drain serving `batches` and telling `short` to wait."""
    product = make_product()
    _queue(product, [1] * batches + [5] * short)
    make_accounts(batches + 1, product=product)  # one short of the first batch of 5
    before = Notification.objects.count()
    with CaptureQueriesContext(connection) as captured:
        served = batches_fulfil(product_id=product.pk, now=timezone.now())
    assert served == batches
    return len(captured.captured_queries), Notification.objects.count() - before


@pytest.mark.postgres  # SQLite marks accounts delivered batch by batch (fulfilment.py)
def test_a_drain_costs_the_same_statements_for_3_or_60_batches(
    queued: list[tuple[str, tuple[Any, ...]]],
) -> None:
    few, few_mails = _drain_statements(3, 2)
    many, many_mails = _drain_statements(60, 40)

    assert few == many < 30
    assert (few_mails, many_mails) == (5, 100)  # one e-mail row per request told something


def test_a_wake_up_that_cannot_serve_the_first_batch_is_one_query_and_changes_nothing() -> None:
    product = make_product()
    batches = _queue(product, [5, 1, 1])  # the head needs 5; later ones would fit but must wait
    ReplacementBatch.objects.update(unavailable_notified_at=timezone.now())  # all were told
    make_accounts(4, product=product)
    before = list(ReplacementBatch.objects.order_by("pk").values_list("pk", "state"))
    mails = Notification.objects.count()

    with CaptureQueriesContext(connection) as captured:
        served = batches_fulfil(product_id=product.pk, now=timezone.now())

    assert served == 0
    assert len(captured.captured_queries) == 1
    assert list(ReplacementBatch.objects.order_by("pk").values_list("pk", "state")) == before
    assert Account.objects.filter(product=product, state="in_stock").count() == 4
    assert Notification.objects.count() == mails
    assert batches[0].state == "waiting"


def test_a_wake_up_still_tells_a_new_waiting_batch_that_stock_is_short() -> None:
    product = make_product()
    (batch,) = _queue(product, [3])

    served = batches_fulfil(product_id=product.pk, now=timezone.now())

    batch.refresh_from_db()
    assert served == 0
    assert batch.unavailable_notified_at is not None
    assert Notification.objects.filter(request_id=batch.request_id).count() == 1
