"""Writes to stock. The one allocation path: sales (import_orders) and compensation both use it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from .audit import Actor
from .crypto import Credentials, credentials_open, credentials_rotate
from .events import (
    account_credentials_revealed_event,
    account_restocked_event,
    account_retired_event,
    accounts_delivered_event,
    credentials_rotated_event,
)
from .models import Account
from .signals import stock_arrived


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
    # Stock that cannot cover the line even with every row free: give up without locking rows
    # (SKIP LOCKED would make concurrent allocations that stock can serve see it short).
    free = Account.objects.filter(product_id=product_id, state=Account.State.IN_STOCK)
    if free.order_by()[:quantity].count() < quantity:
        return []
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
            accounts_delivered_event(
                order_id=order_id,
                line_id=line_id,
                account_ids=ids,
                delivery_kind=kind,
                batch_id=replacement_batch_id,
                actor=actor,
                now=now,
            )
            return ids
    except AllocationConflict:
        return []


# --- Added with the imports and the stock admin (issue 2) --------------------------------------
class AccountStateError(Exception):
    """The account is not in the state the operation needs (nothing was changed)."""


def stock_arrival_announce(*, product_ids: Sequence[int]) -> None:
    """New free stock of these products: send `inventory.signals.stock_arrived` (the compensation
    desk wakes its waiting batches after commit). Call inside the writing transaction."""
    stock_arrived.send(sender=Account, product_ids=sorted(set(product_ids)))


def _actor_has(actor: Actor, perm: str) -> bool:
    return actor is not None and bool(getattr(actor, "has_perm", lambda _p: False)(perm))


def account_reveal_credentials(*, account_id: int, actor: Actor, now: datetime) -> Credentials:
    """Decrypt an account's credentials for a staff member who holds
    `inventory.reveal_credentials`, leaving an audit event (which never holds the secrets)."""
    if not _actor_has(actor, "inventory.reveal_credentials"):
        raise PermissionDenied("revealing credentials needs inventory.reveal_credentials")
    with transaction.atomic():
        account = Account.objects.select_related("line").get(pk=account_id)
        credentials = credentials_open(account.credentials_sealed)
        account_credentials_revealed_event(account=account, actor=actor, now=now)
    return credentials


def account_retire(*, account_id: int, actor: Actor, now: datetime, reason: str = "") -> None:
    """Take an in-stock account out of stock (e.g. a bad supplier batch). Compare-and-set:
    raises AccountStateError when the account is not in stock."""
    with transaction.atomic():
        updated = Account.objects.filter(pk=account_id, state=Account.State.IN_STOCK).update(
            state=Account.State.RETIRED
        )
        if updated != 1:
            raise AccountStateError("only an account in stock can be retired")
        account_retired_event(account_id=account_id, reason=reason, actor=actor, now=now)


def account_restock(*, account_id: int, actor: Actor, now: datetime, reason: str = "") -> None:
    """Put a retired account that never went to a customer back in stock and wake fulfilment.
    An account that was delivered stays out: a stock account goes to one customer, ever."""
    with transaction.atomic():
        account = (
            Account.objects.select_for_update()
            .filter(pk=account_id, state=Account.State.RETIRED, line__isnull=True)
            .first()
        )
        if account is None:
            raise AccountStateError("only a retired, never delivered account can be restocked")
        Account.objects.filter(pk=account_id).update(
            state=Account.State.IN_STOCK, delivered_at=None, delivery_kind=""
        )
        account_restocked_event(account_id=account_id, reason=reason, actor=actor, now=now)
        stock_arrival_announce(product_ids=[account.product_id])


def credentials_rotate_all(*, batch_size: int = 1000, actor: Actor = None) -> int:
    """Re-encrypt every account's credentials under the first configured key, in batches (one
    short transaction each, rows locked in primary-key order). Returns the number rotated."""
    rotated = 0
    last_id = 0
    while True:
        with transaction.atomic():
            rows = list(
                Account.objects.select_for_update()
                .filter(pk__gt=last_id)
                .order_by("pk")
                .only("pk", "credentials_sealed")[:batch_size]
            )
            if not rows:
                credentials_rotated_event(rotated=rotated, actor=actor, now=timezone.now())
                return rotated
            for row in rows:
                row.credentials_sealed = credentials_rotate(row.credentials_sealed)
            Account.objects.bulk_update(rows, ["credentials_sealed"], batch_size=batch_size)
        rotated += len(rows)
        last_id = rows[-1].pk
