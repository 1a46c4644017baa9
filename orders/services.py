"""Writes to orders: the order import (interfaces.md §2).

A line with `quantity` is a sale delivered from stock now, through the one allocation path
(`inventory.services.accounts_allocate`, the code compensation uses too). A line with `accounts`
records accounts that were delivered before this system existed; their counters are the baseline.
Same contract as the CSV imports: the whole file is validated first, every error is reported
with its line number, and nothing is written unless the file is clean. Orders already present
(by order id) are skipped and counted.

The JSON file is read whole (a list of orders is small next to stock files); the stock lookups
and the writes are set-based.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count

from inventory.audit import Actor
from inventory.importing import (
    BATCH_SIZE,
    COUNTER_FIELDS,
    AccountFields,
    ImportAborted,
    ImportReport,
    ProgressFactory,
    RowError,
    _chunks,
    _import_batch_create,
    _import_batch_finish,
    _progress,
    account_fields_parse,
    existing_usernames,
)
from inventory.models import Account, ImportBatch, Product
from inventory.services import accounts_allocate

from .events import orders_imported_events
from .models import Order, OrderLine

ORDER_KEYS = {"order_id", "email", "placed_at", "lines"}
LINE_KEYS = {"sku", "quantity", "accounts"}
ACCOUNT_KEYS = {
    "username",
    "user_id",
    "password",
    "email",
    "email_password",
    "two_factor_secret",
    "supplier",
    "notes",
    *COUNTER_FIELDS,
}
# Clock skew tolerated for "placed in the future".
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(slots=True)
class _Line:
    product: Product
    quantity: int
    accounts: list[AccountFields] | None  # None: a sale from stock


@dataclass(slots=True)
class _Order:
    line: int
    order_id: str
    email: str
    placed_at: datetime
    lines: list[_Line]


def _json_items(text: str) -> list[tuple[int, Any]]:
    """Parse a top-level JSON list, keeping the line number where each element starts."""
    decoder = json.JSONDecoder()
    position = 0
    line = 1

    def skip(index: int) -> int:
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        return index

    def line_at(index: int) -> int:
        nonlocal position, line
        line += text.count("\n", position, index)
        position = index
        return line

    index = skip(0)
    if index == len(text):
        raise json.JSONDecodeError("the file is empty (expected a list of orders)", text, index)
    if text[index] != "[":
        raise json.JSONDecodeError("expected a list of orders (starting with [)", text, index)
    index = skip(index + 1)
    items: list[tuple[int, Any]] = []
    if index < len(text) and text[index] == "]":
        index = skip(index + 1)
    else:
        while True:
            value, end = decoder.raw_decode(text, index)
            items.append((line_at(index), value))
            index = skip(end)
            if index < len(text) and text[index] == ",":
                index = skip(index + 1)
                continue
            if index < len(text) and text[index] == "]":
                index = skip(index + 1)
                break
            raise json.JSONDecodeError("expected , or ] after an order", text, index)
    if index != len(text):
        raise json.JSONDecodeError("unexpected text after the list of orders", text, index)
    return items


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _order_parse(
    line: int, raw: Any, products: dict[str, Product | None], now: datetime, errors: list[RowError]
) -> _Order | None:
    def bad(message: str) -> None:
        errors.append(RowError(line, f"{label}: {message}"))

    label = "order"
    if not isinstance(raw, dict):
        errors.append(RowError(line, "each order must be a JSON object"))
        return None
    order_id = raw.get("order_id")
    if isinstance(order_id, str) and order_id.strip():
        label = f"order {order_id.strip()!r}"
    before = len(errors)
    unknown = sorted(set(raw) - ORDER_KEYS)
    if unknown:
        bad(f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(ORDER_KEYS))})")
    if not isinstance(order_id, str) or not order_id.strip():
        bad("order_id is required (text)")
    elif len(order_id.strip()) > 64:
        bad("order_id is longer than 64 characters")
    email = raw.get("email")
    if not isinstance(email, str) or not email.strip():
        bad("email is required")
    else:
        try:
            validate_email(email.strip())
        except ValidationError:
            bad(f"email {email!r} is not a valid e-mail address")
    placed_at = _parse_time(raw.get("placed_at"))
    if placed_at is None:
        bad(
            f"placed_at {raw.get('placed_at')!r} is not an ISO 8601 time "
            "(e.g. 2026-11-20T10:00:00Z)"
        )
    elif placed_at > now + FUTURE_TOLERANCE:
        bad(f"placed_at {raw.get('placed_at')!r} is in the future")
    lines_raw = raw.get("lines")
    lines: list[_Line] = []
    if not isinstance(lines_raw, list) or not lines_raw:
        bad("lines must be a non-empty list")
        lines_raw = []
    seen_skus: set[str] = set()
    for number, line_raw in enumerate(lines_raw, start=1):
        where = f"lines[{number - 1}]"
        if not isinstance(line_raw, dict):
            bad(f"{where} must be an object")
            continue
        unknown = sorted(set(line_raw) - LINE_KEYS)
        if unknown:
            bad(f"{where}: unknown field(s) {', '.join(unknown)}")
        sku = line_raw.get("sku")
        product = None
        if not isinstance(sku, str) or not sku.strip():
            bad(f"{where}: sku is required")
        else:
            sku = sku.strip()
            if sku not in products:
                products[sku] = Product.objects.filter(sku=sku).first()
            product = products[sku]
            if product is None:
                bad(f"{where}: unknown sku {sku!r}")
            elif sku in seen_skus:
                bad(f"{where}: sku {sku!r} appears twice in this order (one line per product)")
            seen_skus.add(sku)
        has_quantity, has_accounts = "quantity" in line_raw, "accounts" in line_raw
        quantity = line_raw.get("quantity")
        accounts_raw = line_raw.get("accounts")
        accounts: list[AccountFields] | None = None
        if has_quantity == has_accounts:
            bad(f"{where}: give either quantity (a sale from stock) or accounts (history)")
            continue
        if has_quantity:
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                bad(f"{where}: quantity must be a whole number ≥ 1, got {quantity!r}")
                continue
        else:
            if not isinstance(accounts_raw, list) or not accounts_raw:
                bad(f"{where}: accounts must be a non-empty list")
                continue
            accounts = []
            for index, account_raw in enumerate(accounts_raw):
                here = f"{where}.accounts[{index}]"
                if not isinstance(account_raw, dict):
                    bad(f"{here} must be an object")
                    continue
                unknown = sorted(set(account_raw) - ACCOUNT_KEYS)
                if unknown:
                    bad(f"{here}: unknown field(s) {', '.join(unknown)}")
                fields, problems = account_fields_parse(account_raw, password_required=False)
                for problem in problems:
                    bad(f"{here}: {problem}")
                if fields is not None:
                    accounts.append(fields)
            quantity = len(accounts_raw)
        if product is not None:
            lines.append(_Line(product=product, quantity=int(quantity), accounts=accounts))
    if len(errors) != before or placed_at is None or not isinstance(order_id, str):
        return None
    assert isinstance(email, str)
    return _Order(
        line=line, order_id=order_id.strip(), email=email.strip(), placed_at=placed_at, lines=lines
    )


def _read(source: IO[bytes], errors: list[RowError]) -> tuple[str, list[tuple[int, Any]]]:
    data = source.read()
    sha = hashlib.sha256(data).hexdigest()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        errors.append(
            RowError(bad_line, f"not valid UTF-8 (byte {column}); save the file as UTF-8")
        )
        return sha, []
    try:
        return sha, _json_items(text)
    except json.JSONDecodeError as exc:
        errors.append(RowError(exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})"))
        return sha, []


def _validate(source: IO[bytes], now: datetime, report: ImportReport) -> list[_Order]:
    """Everything that can be known before writing; returns the orders to create."""
    errors = report.errors
    report.sha256, items = _read(source, errors)
    if not items and not errors:
        errors.append(RowError(1, "the file holds no orders"))
    report.rows_total = len(items)
    products: dict[str, Product | None] = {}
    parsed: list[_Order] = []
    first_line: dict[str, int] = {}
    for line, raw in items:
        raw_id = raw.get("order_id") if isinstance(raw, dict) else None
        key = raw_id.strip() if isinstance(raw_id, str) else None
        if key and key in first_line:
            errors.append(
                RowError(
                    line, f"order {key!r}: duplicate order_id (first on line {first_line[key]})"
                )
            )
            continue
        if key:
            first_line[key] = line
        order = _order_parse(line, raw, products, now, errors)
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
    return {
        oid
        for chunk in _chunks(order_ids, BATCH_SIZE)
        for oid in Order.objects.filter(order_id__in=chunk).values_list("order_id", flat=True)
    }


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
    bar = _progress(progress, "importing", len(new))
    try:
        with transaction.atomic():
            present = _present_order_ids([o.order_id for o in new])
            if present:  # imported by someone else since validation
                report.skipped += len(present)
                new = [o for o in new if o.order_id not in present]
            batch = _import_batch_create(kind=ImportBatch.Kind.ORDERS, report=report, actor=actor)
            for chunk in _chunks(new, BATCH_SIZE):
                _orders_write(chunk, batch=batch, actor=actor, now=now)
                bar.update(len(chunk))
            report.created = len(new)
            _import_batch_finish(batch, report)
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


def _orders_write(chunk: list[_Order], *, batch: ImportBatch, actor: Actor, now: datetime) -> None:
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
