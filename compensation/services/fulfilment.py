"""Fulfilment of replacement batches: strict first-come, first-served per product, all or none.

One drain (`batches_fulfil`) per product at a time:

* PostgreSQL: `pg_advisory_xact_lock` on the product serialises drains of one product; on SQLite
  the write lock taken at BEGIN (transaction_mode IMMEDIATE) does the same.
* The waiting batches are locked (primary-key order) and walked in `(approved_at, id)` order. The
  walk stops at the FIRST batch that does not fit: a later, smaller batch never overtakes.
* Stock is claimed with the one allocation path (`inventory.services.stock_claim_ids`: row locks,
  SKIP LOCKED, lowest id first) and marked with a compare-and-set (`state='in_stock'`), one
  set-based UPDATE for the whole drain on PostgreSQL. Batches go to `delivered` with a
  compare-and-set on `state='waiting'`, so a task delivered twice never gives a batch more than
  it is owed: any mismatch raises and the whole drain rolls back (nothing is lost).
* SKIP LOCKED may report "nothing free" while free rows are held by transactions in flight, so a
  waiting batch is also retried by the periodic sweep (`batches_sweep`), not only by a wake-up.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from compensation import tasks
from compensation.events import batches_delivered_events, batches_waiting_events
from compensation.models import ReplacementBatch
from compensation.queueing import enqueue_on_commit
from compensation.services.email_schedule import Change, notifications_on_change
from compensation.webhooks.outbox import webhooks_emit
from inventory.models import Account
from inventory.services import AllocationConflict, accounts_mark_delivered, stock_claim_ids

# First key of the two-key advisory lock: keeps our locks apart from anybody else's.
_LOCK_NAMESPACE = zlib.crc32(b"compensation.fulfilment") & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class _Grant:
    batch_id: int
    line_id: int
    account_ids: list[int]


def _int_array(values: Sequence[int]) -> str:
    """A PostgreSQL array literal of integers ('{1,2,3}')."""
    return "{" + ",".join(str(int(v)) for v in values) + "}"


def _product_lock(product_id: int) -> None:
    """Serialise drains of one product until the end of the transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, product_id % 2**31]
            )


def accounts_mark_delivered_many(*, grants: Sequence[_Grant], now: datetime) -> None:
    """Compare-and-set in stock -> delivered (as compensation) for many batches at once.

    PostgreSQL: one UPDATE … FROM unnest(...) for every account of every batch. Elsewhere: one
    `accounts_mark_delivered` per batch. Raises `AllocationConflict` when any row was not free
    (the caller's transaction then rolls back)."""
    if not grants:
        return
    if connection.vendor != "postgresql":
        for grant in grants:
            accounts_mark_delivered(
                account_ids=grant.account_ids,
                line_id=grant.line_id,
                kind=Account.DeliveryKind.COMPENSATION,
                now=now,
                replacement_batch_id=grant.batch_id,
            )
        return
    ids: list[int] = []
    batch_ids: list[int] = []
    line_ids: list[int] = []
    for grant in grants:
        ids.extend(grant.account_ids)
        batch_ids.extend([grant.batch_id] * len(grant.account_ids))
        line_ids.extend([grant.line_id] * len(grant.account_ids))
    table = Account._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS a
               SET state = %s, line_id = v.line_id, replacement_batch_id = v.batch_id,
                   delivered_at = %s, delivery_kind = %s
              FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::bigint[]) AS batch_id,
                           unnest(%s::bigint[]) AS line_id) AS v
             WHERE a.id = v.id AND a.state = %s
            """,  # noqa: S608 - the table name comes from the model, values are parameters
            [
                Account.State.DELIVERED,
                now,
                Account.DeliveryKind.COMPENSATION,
                # Array literals as one string each: psycopg quotes a list of 10,000 ints in
                # Python, element by element (a third of the drain's time).
                _int_array(ids),
                _int_array(batch_ids),
                _int_array(line_ids),
                Account.State.IN_STOCK,
            ],
        )
        updated = cursor.rowcount
    if updated != len(ids):
        raise AllocationConflict(f"expected {len(ids)} free accounts, updated {updated}")


def _batches_mark_delivered(*, batch_ids: list[int], now: datetime) -> int:
    """Compare-and-set waiting -> delivered; returns how many rows changed. PostgreSQL: the ids
    go as one array literal (a list of 1,000 placeholders costs psycopg more than the update);
    elsewhere (SQLite for newcomers) through the ORM."""
    if connection.vendor != "postgresql":
        return ReplacementBatch.objects.filter(
            id__in=batch_ids, state=ReplacementBatch.State.WAITING
        ).update(state=ReplacementBatch.State.DELIVERED, delivered_at=now)
    table = ReplacementBatch._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = %s, delivered_at = %s "  # noqa: S608 - model's table
            "WHERE id = ANY(%s::bigint[]) AND state = %s",
            [
                ReplacementBatch.State.DELIVERED,
                now,
                _int_array(batch_ids),
                ReplacementBatch.State.WAITING,
            ],
        )
        return cursor.rowcount


def _drain_has_work(product_id: int) -> bool:
    """One cheap query, before any lock: can the stock serve the first waiting batch, or is a
    waiting customer still to be told "currently unavailable"? If neither, a drain would only
    lock and read the whole queue to change nothing (10,000 waiting batches: 650 ms).

    The stock is counted up to the first batch's quantity only. A batch or stock arriving after
    this look wakes fulfilment again (and the sweep retries), so returning early loses nothing.
    """
    batches = ReplacementBatch._meta.db_table
    accounts = Account._meta.db_table
    waiting, in_stock = ReplacementBatch.State.WAITING, Account.State.IN_STOCK
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH head AS (
                SELECT quantity FROM {batches}
                 WHERE product_id = %s AND state = %s
                 ORDER BY approved_at, id LIMIT 1)
            SELECT (SELECT quantity FROM head),
                   (SELECT count(*) FROM (
                        SELECT 1 FROM {accounts} WHERE product_id = %s AND state = %s
                         LIMIT COALESCE((SELECT quantity FROM head), 0)) AS free),
                   EXISTS (SELECT 1 FROM {batches}
                            WHERE product_id = %s AND state = %s
                              AND unavailable_notified_at IS NULL)
            """,  # noqa: S608 - table names from the models, values are parameters
            [product_id, waiting, product_id, in_stock, product_id, waiting],
        )
        head_quantity, free, untold = cursor.fetchone()
    if head_quantity is None:
        return False
    return free >= head_quantity or bool(untold)


def batches_fulfil(*, product_id: int, now: datetime) -> int:
    """Deliver the waiting batches of one product, first come first served. Returns how many
    batches were delivered. Idempotent: running it twice never gives a batch more than owed."""
    if not _drain_has_work(product_id):
        return 0
    with transaction.atomic():
        _product_lock(product_id)
        # Lock in primary-key order (deadlock-free with every other locker), walk in FIFO order.
        waiting = list(
            ReplacementBatch.objects.select_for_update(of=("self",))
            .filter(product_id=product_id, state=ReplacementBatch.State.WAITING)
            .select_related("line__order")  # the e-mails need the order; requests by id only
            .order_by("id")
        )
        if not waiting:
            return 0
        waiting.sort(key=lambda b: (b.approved_at, b.id))
        needed = sum(b.quantity for b in waiting)
        free = stock_claim_ids(product_id=product_id, quantity=needed)

        served: list[ReplacementBatch] = []
        grants: list[_Grant] = []
        position = 0
        for batch in waiting:
            if position + batch.quantity > len(free):
                break  # the first batch that does not fit stops the walk: nobody overtakes it
            account_ids = free[position : position + batch.quantity]
            position += batch.quantity
            served.append(batch)
            grants.append(_Grant(batch_id=batch.id, line_id=batch.line_id, account_ids=account_ids))
        unserved = waiting[len(served) :]

        if served:
            accounts_mark_delivered_many(grants=grants, now=now)
            updated = _batches_mark_delivered(batch_ids=[b.id for b in served], now=now)
            if updated != len(served):
                raise AllocationConflict(f"expected {len(served)} waiting batches, got {updated}")
            for batch in served:
                batch.state, batch.delivered_at = ReplacementBatch.State.DELIVERED, now
            batches_delivered_events(
                deliveries=[(b, g.account_ids) for b, g in zip(served, grants, strict=True)],
                product_id=product_id,
                now=now,
            )

        # Batches left waiting: the customer hears once that stock is short (the column is the
        # compare-and-set; the e-mail tells each account's state once).
        to_tell = [b for b in unserved if b.unavailable_notified_at is None]
        if to_tell:
            # The rows are locked by this transaction: this update cannot race.
            ReplacementBatch.objects.filter(
                id__in=[b.id for b in to_tell], unavailable_notified_at__isnull=True
            ).update(unavailable_notified_at=now)
            for batch in to_tell:
                batch.unavailable_notified_at = now
            batches_waiting_events(
                batches=to_tell,
                product_id=product_id,
                free_after_drain=len(free) - position,
                now=now,
            )
        # The customer's e-mails are composed from the state when they are sent: one for what was
        # delivered together, one (after a minute, in case stock arrives) for what must wait.
        notifications_on_change(
            request_ids={b.request_id for b in served}, change=Change.DELIVERED, now=now
        )
        notifications_on_change(
            request_ids={b.request_id for b in to_tell}, change=Change.SHORT, now=now
        )
        webhooks_emit(
            event_type="replacement.delivered", request_ids=[b.request_id for b in served], now=now
        )
        webhooks_emit(
            event_type="replacement.waiting", request_ids=[b.request_id for b in to_tell], now=now
        )
    return len(served)


def batches_sweep(*, now: datetime) -> int:
    """Safety net (schedule): drain every product that has waiting batches."""
    product_ids = sorted(
        set(
            ReplacementBatch.objects.filter(state=ReplacementBatch.State.WAITING)
            .order_by()
            .values_list("product_id", flat=True)
        )
    )
    return sum(batches_fulfil(product_id=pid, now=now) for pid in product_ids)


def fulfilment_wake(*, product_ids: Iterable[int]) -> None:
    """Queue, after the current transaction commits, one drain per product that has waiting
    batches. Called on stock arrival (imports, uploads, restocks) and by approvals."""
    ids = sorted({int(pid) for pid in product_ids})
    if not ids:
        return
    waiting = ReplacementBatch.objects.filter(
        product_id__in=ids, state=ReplacementBatch.State.WAITING
    )
    with_waiting = sorted(set(waiting.order_by().values_list("product_id", flat=True)))
    for pid in with_waiting:
        enqueue_on_commit(tasks.fulfil_product, pid, task_name=f"fulfil-{pid}")
