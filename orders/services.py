"""Writes to orders: the order import (docs/formats.md).

A line with `quantity` is a sale delivered from stock now, through the one allocation path
(`inventory.services.accounts_allocate`, the code compensation uses too). A line with `accounts`
records accounts that were delivered before this system existed; their counters are the baseline.
Same contract as the CSV imports: the whole file is validated first, every error is reported
with its line number, and nothing is written unless the file is clean. Orders already present
(by order id) are skipped and counted.

The JSON file is read whole (a list of orders is small next to stock files) and parsed by
`order_file.py`; the checks against the database, the stock lookups and the writes here are
set-based.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import IO

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.db.models.functions import Upper

from inventory.account_fields import existing_usernames
from inventory.audit import Actor
from inventory.import_rows import (
    BATCH_SIZE,
    ImportAborted,
    ImportReport,
    ProgressFactory,
    RowError,
    chunks,
    import_batch_create,
    import_batch_finish,
    progress_bar,
)
from inventory.models import Account, ImportBatch, Product
from inventory.services import accounts_allocate

from .events import orders_imported_events
from .models import Order, OrderLine
from .order_file import ParsedOrder, order_file_read, order_parse


def _validate(source: IO[bytes], now: datetime, report: ImportReport) -> list[ParsedOrder]:
    """Everything that can be known before writing; returns the orders to create."""
    errors = report.errors
    report.sha256, items = order_file_read(source, errors)
    if not items and not errors:
        errors.append(RowError(1, "the file holds no orders"))
    report.rows_total = len(items)
    products: dict[str, Product | None] = {}
    parsed: list[ParsedOrder] = []
    first_line: dict[str, int] = {}
    for line, raw in items:
        raw_id = raw.get("order_id") if isinstance(raw, dict) else None
        # Order ids are one id whatever their case ("d1002" is D1002).
        key = raw_id.strip().upper() if isinstance(raw_id, str) else None
        if key and key in first_line:
            errors.append(
                RowError(
                    line,
                    f"order {str(raw_id).strip()!r}: duplicate order_id (first on line "
                    f"{first_line[key]})",
                )
            )
            continue
        if key:
            first_line[key] = line
        order = order_parse(line, raw, products, now, errors)
        if order is not None:
            parsed.append(order)
    present = _present_order_ids([o.order_id for o in parsed])
    report.skipped = sum(1 for o in parsed if o.order_id in present)
    new = [o for o in parsed if o.order_id not in present]

    # History accounts: unique per platform (case-insensitive) within the file and the database.
    seen: dict[tuple[str, str], int] = {}
    wanted: dict[str, list[str]] = {}
    for order in new:
        for order_line in order.lines:
            for fields in order_line.accounts or []:
                pair = (order_line.product.platform, fields.username.lower())
                if pair in seen:
                    errors.append(
                        RowError(
                            order.line,
                            f"order {order.order_id!r}: duplicate "
                            f"username {fields.username!r} on {pair[0]} "
                            f"(first in the order on line {seen[pair]})",
                        )
                    )
                    continue
                seen[pair] = order.line
                wanted.setdefault(pair[0], []).append(pair[1])
    taken = {
        (platform, lower)
        for platform, names in wanted.items()
        for lower in existing_usernames(platform=platform, usernames_lower=names)
    }
    for order in new:
        for order_line in order.lines:
            for fields in order_line.accounts or []:
                if (order_line.product.platform, fields.username.lower()) in taken:
                    errors.append(
                        RowError(
                            order.line,
                            f"order {order.order_id!r}: username "
                            f"{fields.username!r} already exists on "
                            f"{order_line.product.platform}",
                        )
                    )

    # Sales: the file's demand per product, in file order, against free stock.
    demand = [(o, ln) for o in new for ln in o.lines if ln.accounts is None]
    in_stock = dict(
        Account.objects.filter(
            product_id__in={ln.product.pk for _, ln in demand}, state=Account.State.IN_STOCK
        )
        .order_by()
        .values_list("product_id")
        .annotate(n=Count("id"))
        .values_list("product_id", "n")
    )
    used: Counter[int] = Counter()
    for order, order_line in demand:
        pid = order_line.product.pk
        free = in_stock.get(pid, 0) - used[pid]
        if order_line.quantity > free:
            errors.append(
                RowError(
                    order.line,
                    f"order {order.order_id!r}: not enough stock of "
                    f"{order_line.product.sku!r}: needs {order_line.quantity}, "
                    f"{max(free, 0)} left of {in_stock.get(pid, 0)} in stock",
                )
            )
        used[pid] += order_line.quantity
    errors.sort(key=lambda e: e.line)
    report.created = 0 if errors else len(new)
    return new


def _present_order_ids(order_ids: list[str]) -> set[str]:
    """The ids of the list that name an order already present. Ids are compared ignoring case
    (as customers type them), so "d1002" is the order D1002 and is skipped, not a duplicate."""
    present = {
        oid
        for chunk in chunks([o.upper() for o in order_ids], BATCH_SIZE)
        for oid in Order.objects.alias(reference=Upper("order_id"))
        .filter(reference__in=chunk)
        .values_list(Upper("order_id"), flat=True)
    }
    return {oid for oid in order_ids if oid.upper() in present}


def orders_import(
    *,
    source: IO[bytes],
    filename: str,
    actor: Actor,
    now: datetime,
    dry_run: bool = False,
    progress: ProgressFactory | None = None,
) -> ImportReport:
    """Import orders (see the module docstring). Returns the report; when it has errors,
    nothing was written."""
    report = ImportReport(kind=ImportBatch.Kind.ORDERS, filename=filename, dry_run=dry_run)
    new = _validate(source, now, report)
    if report.errors or dry_run:
        return report
    bar = progress_bar(progress, "importing", len(new))
    try:
        with transaction.atomic():
            present = _present_order_ids([o.order_id for o in new])
            if present:  # imported by someone else since validation
                report.skipped += len(present)
                new = [o for o in new if o.order_id not in present]
            batch = import_batch_create(kind=ImportBatch.Kind.ORDERS, report=report, actor=actor)
            for chunk in chunks(new, BATCH_SIZE):
                _orders_write(chunk, batch=batch, actor=actor, now=now)
                bar.update(len(chunk))
            report.created = len(new)
            import_batch_finish(batch, report)
    except ImportAborted as exc:
        report.errors.append(exc.error)
        report.created = 0
    except IntegrityError:
        report.errors.append(
            RowError(
                1,
                "another import wrote some of these orders or accounts "
                "at the same time; run it again",
            )
        )
        report.created = 0
    finally:
        bar.close()
    return report


def _orders_write(
    chunk: list[ParsedOrder], *, batch: ImportBatch, actor: Actor, now: datetime
) -> None:
    orders = Order.objects.bulk_create(
        [
            Order(order_id=o.order_id, email=o.email, placed_at=o.placed_at, import_batch=batch)
            for o in chunk
        ],
        batch_size=BATCH_SIZE,
    )
    lines = OrderLine.objects.bulk_create(
        [
            OrderLine(order=order, product=ln.product, quantity=ln.quantity)
            for order, parsed in zip(orders, chunk, strict=True)
            for ln in parsed.lines
        ],
        batch_size=BATCH_SIZE,
    )
    parsed_lines = [(o, ln) for o in chunk for ln in o.lines]
    history: list[Account] = []
    for (parsed, parsed_line), line in zip(parsed_lines, lines, strict=True):
        if parsed_line.accounts is None:
            given = accounts_allocate(
                product_id=parsed_line.product.pk,
                line_id=line.pk,
                order_id=line.order_id,
                quantity=parsed_line.quantity,
                kind=Account.DeliveryKind.SALE,
                now=now,
                actor=actor,
            )
            if not given:
                raise ImportAborted(
                    RowError(
                        parsed.line,
                        f"order {parsed.order_id!r}: stock of "
                        f"{parsed_line.product.sku!r} was taken meanwhile",
                    )
                )
            continue
        history.extend(
            fields.to_account(
                product=parsed_line.product,
                state=Account.State.DELIVERED,
                line=line,
                delivered_at=parsed.placed_at,
                delivery_kind=Account.DeliveryKind.SALE,
                import_batch=batch,
            )
            for fields in parsed_line.accounts
        )
    Account.objects.bulk_create(history, batch_size=BATCH_SIZE)
    orders_imported_events(
        orders=[(order, len(parsed.lines)) for order, parsed in zip(orders, chunk, strict=True)],
        import_batch=batch,
        actor=actor,
        now=now,
    )
