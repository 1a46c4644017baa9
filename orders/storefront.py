"""Orders pushed by the storefront (docs/storefront.md): one order, validated and written by the
order import itself, idempotent by order id.

The order goes through the same code as `import_orders`: `order_parse` (the import's per-order
validation, same messages) and then `orders_import` on a one-order file, so sales (`quantity`
lines) are delivered through the one allocation path, all or nothing, and the order gets an
`ImportBatch` like any import.

"Same content" (docs/decisions.md): two pushes carry the same order when their *canonical JSON*
is equal — keys sorted, no insignificant whitespace, ids, e-mail and SKUs trimmed, `placed_at` as
UTC ISO 8601, lines sorted by SKU. The canonical bytes are what the import reads, so the
import batch's `sha256` is the order's content hash; a repeated order id is compared with it.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count

from inventory.import_rows import RowError
from inventory.models import Account
from orders.order_file import ParsedOrder, order_parse
from orders.selectors import orders_by_reference
from orders.services import orders_import


@dataclass(frozen=True)
class OrderReceipt:
    # "created" | "unchanged" | "conflict" | "invalid" | "insufficient_stock"
    outcome: str
    order_id: str = ""
    errors: list[str] = field(default_factory=list)


def order_canonical(raw: dict[str, Any], parsed: ParsedOrder) -> dict[str, Any]:
    """The canonical form of a validated order (see the module docstring)."""
    lines = [{**line, "sku": line["sku"].strip()} for line in raw["lines"]]
    return {
        "order_id": parsed.order_id,
        "email": parsed.email,
        "placed_at": parsed.placed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "lines": sorted(lines, key=lambda line: line["sku"]),
    }


def order_file_bytes(canonical: dict[str, Any]) -> bytes:
    """The one-order import file: the content hash is the SHA-256 of exactly these bytes."""
    return json.dumps(
        [canonical], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def _stock_short(parsed: ParsedOrder) -> bool:
    """True when free stock cannot cover a `quantity` line (read without locks: the import's
    allocation is the authority, this only names the reason)."""
    sales = {line.product.pk: line.quantity for line in parsed.lines if line.accounts is None}
    if not sales:
        return False
    free = dict(
        Account.objects.filter(product_id__in=list(sales), state=Account.State.IN_STOCK)
        .order_by()
        .values_list("product_id")
        .annotate(n=Count("id"))
        .values_list("product_id", "n")
    )
    return any(quantity > free.get(pid, 0) for pid, quantity in sales.items())


def _repeat(order_id: str, digest: str) -> OrderReceipt | None:
    """The answer for an order id already present: unchanged when the content hash matches."""
    # Order ids are one id whatever their case: "d1002" pushed after D1002 is that order.
    existing = orders_by_reference(order_id).select_related("import_batch").first()
    if existing is None:
        return None
    same = existing.import_batch is not None and existing.import_batch.sha256 == digest
    return OrderReceipt(outcome="unchanged" if same else "conflict", order_id=order_id)


def _messages(errors: list[RowError]) -> list[str]:
    # Line numbers mean nothing for a single pushed order: the import's message alone.
    return [error.message for error in errors]


def order_receive(*, raw: Any, now: datetime) -> OrderReceipt:
    """Create the pushed order (its sales delivered from stock), or say why not. Nothing is
    written unless the outcome is "created"."""
    errors: list[RowError] = []
    parsed = order_parse(1, raw, {}, now, errors)
    if parsed is None:
        return OrderReceipt(outcome="invalid", errors=_messages(errors))
    assert isinstance(raw, dict)
    source = order_file_bytes(order_canonical(raw, parsed))
    digest = hashlib.sha256(source).hexdigest()
    repeat = _repeat(parsed.order_id, digest)
    if repeat is not None:
        return repeat
    if _stock_short(parsed):
        return OrderReceipt(outcome="insufficient_stock", order_id=parsed.order_id)
    report = orders_import(
        source=io.BytesIO(source),
        filename=f"storefront API: order {parsed.order_id}",
        actor=None,
        now=now,
    )
    if report.ok and report.created == 1:
        return OrderReceipt(outcome="created", order_id=parsed.order_id)
    # Another push of this order id won the race (skipped, or a unique-key clash).
    repeat = _repeat(parsed.order_id, digest)
    if repeat is not None:
        return repeat
    history = any(line.accounts is not None for line in parsed.lines)
    if _stock_short(parsed) or not history:
        # Stock was taken between the check and the allocation (only history lines can fail
        # the import's remaining validation).
        return OrderReceipt(outcome="insufficient_stock", order_id=parsed.order_id)
    return OrderReceipt(
        outcome="invalid", order_id=parsed.order_id, errors=_messages(report.errors)
    )
