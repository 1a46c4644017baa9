"""Reading the orders JSON file (docs/formats.md): the file as items with their line numbers,
and each order parsed and checked on its own (field by field, products looked up by SKU).
Cross-order checks and the writes are `orders.services.orders_import`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from inventory.account_fields import COUNTER_FIELDS, AccountFields, account_fields_parse
from inventory.import_rows import RowError
from inventory.models import Product

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
class ParsedLine:
    product: Product
    quantity: int
    accounts: list[AccountFields] | None  # None: a sale from stock


@dataclass(slots=True)
class ParsedOrder:
    line: int
    order_id: str
    email: str
    placed_at: datetime
    lines: list[ParsedLine]


def json_items(text: str) -> list[tuple[int, Any]]:
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


def order_parse(
    line: int, raw: Any, products: dict[str, Product | None], now: datetime, errors: list[RowError]
) -> ParsedOrder | None:
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
    lines: list[ParsedLine] = []
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
            lines.append(ParsedLine(product=product, quantity=int(quantity), accounts=accounts))
    if len(errors) != before or placed_at is None or not isinstance(order_id, str):
        return None
    assert isinstance(email, str)
    return ParsedOrder(
        line=line, order_id=order_id.strip(), email=email.strip(), placed_at=placed_at, lines=lines
    )


def order_file_read(source: IO[bytes], errors: list[RowError]) -> tuple[str, list[tuple[int, Any]]]:
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
        return sha, json_items(text)
    except json.JSONDecodeError as exc:
        errors.append(RowError(exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})"))
        return sha, []
