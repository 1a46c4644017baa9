"""Writes to stock. The one allocation path: sales (import_orders) and compensation both use it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from orders.events import Actor, event_record
from orders.models import Event

from .models import Account


class AllocationConflict(Exception):
    """A claimed row changed state under us (cannot happen with row locks; the CAS is the net)."""


def stock_claim_ids(*, product_id: int, quantity: int) -> list[int]:
    """Lock up to `quantity` free accounts of a product, lowest id first, skipping rows another
    transaction holds. Must run inside a transaction; the locks last until it ends."""
    return list(
        Account.objects.select_for_update(skip_locked=True)
        .filter(product_id=product_id, state=Account.State.IN_STOCK)
        .order_by("id")
        .values_list("id", flat=True)[:quantity]
    )


def accounts_mark_delivered(
    *,
    account_ids: Sequence[int],
    line_id: int,
    kind: str,
    now: datetime,
    replacement_batch_id: int | None = None,
) -> None:
    """Compare-and-set in stock -> delivered for exactly these ids, or raise (rolls back)."""
    updated = Account.objects.filter(id__in=account_ids, state=Account.State.IN_STOCK).update(
        state=Account.State.DELIVERED,
        line_id=line_id,
        delivered_at=now,
        delivery_kind=kind,
        replacement_batch_id=replacement_batch_id,
    )
    if updated != len(account_ids):
        raise AllocationConflict(f"expected {len(account_ids)} free accounts, updated {updated}")


def accounts_allocate(
    *,
    product_id: int,
    line_id: int,
    order_id: int,
    quantity: int,
    kind: str,
    now: datetime,
    replacement_batch_id: int | None = None,
    actor: Actor = None,
) -> list[int]:
    """Give `quantity` in-stock accounts of the product to the line: all or none.

    Returns the ids given, or [] when free stock is short (then nothing was taken). Safe under
    concurrency on PostgreSQL: rows are locked in primary-key order with SKIP LOCKED, and the
    state change is a compare-and-set, never a check-then-act.
    """
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    try:
        with transaction.atomic():
            ids = stock_claim_ids(product_id=product_id, quantity=quantity)
            if len(ids) < quantity:
                return []
            accounts_mark_delivered(
                account_ids=ids,
                line_id=line_id,
                kind=kind,
                now=now,
                replacement_batch_id=replacement_batch_id,
            )
            event_record(
                kind=Event.Kind.ACCOUNTS_DELIVERED,
                actor=actor,
                order_id=order_id,
                batch_id=replacement_batch_id,
                message=f"{quantity} account(s) delivered as {kind}",
                data={"line_id": line_id, "account_ids": ids, "kind": kind},
                at=now,
            )
            return ids
    except AllocationConflict:
        return []
