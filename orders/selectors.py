"""Reads of orders."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet, Value
from django.db.models.functions import Upper

from inventory.models import Account, Event

from .models import Order


def orders_by_reference(order_id: str) -> QuerySet[Order]:
    """The orders a customer's typed id names: trimmed, compared ignoring case, on every channel
    (form, API, order-page link, e-mail). Served by the expression index of `Order`."""
    return Order.objects.alias(reference=Upper("order_id")).filter(
        reference=Upper(Value(order_id.strip()))
    )


def order_find(order_id: str) -> Order | None:
    """The one order a customer means (ids are unique ignoring case), or None."""
    if not order_id.strip():
        return None
    return orders_by_reference(order_id).first()


# What the order's admin page shows of each delivered account, in this order.
DeliveredAccountRow = tuple[int, str, str, str, str, datetime | None, str]


def order_delivered_account_rows(*, order_id: int, limit: int) -> list[DeliveredAccountRow]:
    """The first `limit` accounts delivered on the order's lines (sales and compensation), line
    by line, as (id, product sku, username, platform, delivery kind, delivered at, state):
    tuples, not three models a row, for a page that lists a hundred."""
    return list(
        Account.objects.filter(line__order_id=order_id)
        .order_by("line_id", "delivered_at", "id")
        .values_list(
            "pk",
            "line__product__sku",
            "username",
            "platform",
            "delivery_kind",
            "delivered_at",
            "state",
        )[:limit]
    )


def order_events(*, order_id: int) -> QuerySet[Event]:
    return (
        Event.objects.filter(order_id=order_id)
        .select_related("actor", "account")
        .order_by("at", "id")
    )
