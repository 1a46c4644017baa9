"""The fresh-link form (/orders/new-link/) tells nothing about which orders exist: the same
answer, the same work (one task queued) and the same time for known and unknown orders; and it
cannot flood a customer: one link e-mail per order per ORDER_LINK_RESEND_MINUTES."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from compensation.models import Notification
from orders.models import Order

URL = "/orders/new-link/"
ROUNDS = 300


@pytest.fixture(autouse=True)
def _no_rate_limit(settings: Any) -> None:
    settings.COMPENSATION_RATE_LIMIT = "0"
    cache.clear()


def _order() -> Order:
    return Order.objects.create(
        order_id="K-1", email="owner@example.com", placed_at=timezone.now() - timedelta(days=2)
    )


@pytest.mark.django_db(transaction=True)
def test_known_and_unknown_orders_take_the_same_time_and_queue_the_same_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Conf, "SYNC", False)  # queue to the broker as production does
    order = _order()
    client = Client()
    for _ in range(10):  # warm up: templates, connections
        client.post(URL, {"order_id": order.order_id})
        client.post(URL, {"order_id": "K-2"})
    OrmQ.objects.all().delete()
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    bodies: dict[str, set[bytes]] = {"known": set(), "unknown": set()}
    for i in range(ROUNDS):
        # An unknown id of the same length (a probe would try many; each costs the same).
        pair = [("known", order.order_id), ("unknown", "K-2")]
        if i % 2:
            pair.reverse()  # interleaved, alternating which goes first
        for label, order_id in pair:
            started = time.perf_counter()
            response = client.post(URL, {"order_id": order_id})
            timings[label].append(time.perf_counter() - started)
            assert response.status_code == 200
            bodies[label].add(response.content.split(b"csrfmiddlewaretoken")[0])
    known = statistics.median(timings["known"]) * 1000
    unknown = statistics.median(timings["unknown"]) * 1000
    print(f"\nfresh-link form medians: known {known:.2f} ms, unknown {unknown:.2f} ms")
    assert abs(known - unknown) < 1.0
    assert bodies["known"] == bodies["unknown"]
    # The same work: one queued task per ask, whatever the order.
    assert OrmQ.objects.count() == 2 * ROUNDS
    assert mail.outbox == []  # nothing was looked up or sent by the web request itself


@pytest.mark.django_db(transaction=True)
def test_the_second_ask_within_the_hour_sends_nothing(settings: Any) -> None:
    settings.ORDER_LINK_RESEND_MINUTES = 60
    order = _order()
    client = Client()
    for _ in range(5):  # tasks run inline in the tests
        assert client.post(URL, {"order_id": order.order_id}).status_code == 200
    assert [m.to for m in mail.outbox] == [[order.email]]
    assert Notification.objects.filter(order=order, kind="order_link").count() == 1
