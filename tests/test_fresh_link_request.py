"""The fresh-link work (run in a task): one e-mail per order per interval, nothing for unknown
orders, and the link e-mail goes to the address on the order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from compensation.models import Notification
from compensation.services.fresh_links import order_link_request
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def _order(order_id: str = "A-77") -> Order:
    return Order.objects.create(
        order_id=order_id, email="owner@example.com", placed_at=timezone.now() - timedelta(days=2)
    )


def test_a_known_order_gets_one_link_e_mail_at_its_own_address() -> None:
    order = _order()
    assert order_link_request(order_id=f"  {order.order_id} ", now=timezone.now()) is True
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "/orders/link/" in mail.outbox[0].body
    assert Notification.objects.filter(order=order, kind="order_link").count() == 1


def test_asking_again_within_the_interval_sends_nothing(settings) -> None:
    settings.ORDER_LINK_RESEND_MINUTES = 60
    order = _order()
    now = timezone.now()
    assert order_link_request(order_id=order.order_id, now=now) is True
    results = [order_link_request(order_id=order.order_id, now=now) for _ in range(20)]
    assert results == [False] * 20
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(order=order).count() == 1


def test_after_the_interval_a_new_link_is_sent(settings) -> None:
    settings.ORDER_LINK_RESEND_MINUTES = 60
    order = _order()
    assert order_link_request(order_id=order.order_id, now=timezone.now()) is True
    later = timezone.now() + timedelta(minutes=61)
    assert order_link_request(order_id=order.order_id, now=later) is True
    assert len(mail.outbox) == 2


def test_an_unknown_or_blank_order_sends_nothing_and_writes_nothing() -> None:
    _order()
    assert order_link_request(order_id="NO-SUCH", now=timezone.now()) is False
    assert order_link_request(order_id="   ", now=timezone.now()) is False
    assert mail.outbox == []
    assert Notification.objects.count() == 0
