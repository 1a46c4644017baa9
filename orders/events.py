"""Audit events of orders and their order-page links: one function per kind (see
`inventory.audit`, the one writer)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from inventory.audit import Actor, event_new, event_record, events_record_many
from inventory.models import Event, ImportBatch

from .models import Order, OrderLink


class OrderEvent(StrEnum):
    ORDER_IMPORTED = "order_imported"
    LINK_ISSUED = "link_issued"
    LINK_REVOKED = "link_revoked"


def orders_imported_events(
    *,
    orders: Sequence[tuple[Order, int]],
    import_batch: ImportBatch,
    actor: Actor,
    now: datetime,
) -> list[Event]:
    """One event per imported order; `orders` holds (order, number of lines)."""
    return events_record_many(
        event_new(
            kind=OrderEvent.ORDER_IMPORTED,
            actor=actor,
            order_id=order.pk,
            message=f"imported from {import_batch.filename}",
            data={"import_batch_id": import_batch.pk, "lines": lines},
            at=now,
        )
        for order, lines in orders
    )


def order_link_issued_event(*, link: OrderLink, now: datetime) -> Event:
    return event_record(
        kind=OrderEvent.LINK_ISSUED,
        order_id=link.order_id,
        data={"link_id": link.pk, "expires_at": link.expires_at.isoformat()},
        at=now,
    )


def order_link_revoked_event(*, link: OrderLink, actor: Actor, now: datetime) -> Event:
    return event_record(
        kind=OrderEvent.LINK_REVOKED,
        actor=actor,
        order_id=link.order_id,
        data={"link_id": link.pk},
        at=now,
    )
