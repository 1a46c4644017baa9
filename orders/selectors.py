"""Reads of orders for the back office."""

from __future__ import annotations

from django.db.models import QuerySet

from inventory.models import Account, Event


def order_delivered_accounts(*, order_id: int) -> QuerySet[Account]:
    """Every account delivered on the order's lines (sales and compensation), line by line."""
    return (
        Account.objects.filter(line__order_id=order_id)
        .select_related("line__product", "product")
        .order_by("line_id", "delivered_at", "id")
    )


def order_events(*, order_id: int) -> QuerySet[Event]:
    return (
        Event.objects.filter(order_id=order_id)
        .select_related("actor", "account")
        .order_by("at", "id")
    )
