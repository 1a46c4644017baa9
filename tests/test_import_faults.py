"""Imports refuse what the database cannot hold, with a line-numbered error, nothing written and
in time linear in the file: dates outside 2000–2099, counters above 10^9, NUL bytes, unpaired
surrogates, 100,000 columns, 100,000-deep JSON, a 5,000-digit number."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from inventory.import_rows import ImportReport
from inventory.importing import products_import, stock_import
from inventory.models import Account, Event, ImportBatch, Product
from orders.models import Order, OrderLine
from orders.services import orders_import

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def run(service: Any, content: str | bytes) -> tuple[ImportReport, float]:
    data = content.encode() if isinstance(content, str) else content
    started = time.perf_counter()
    report = service(source=io.BytesIO(data), filename="f", actor=None, now=NOW)
    return report, time.perf_counter() - started


def written() -> tuple[int, ...]:
    return (
        Product.objects.count(),
        Account.objects.count(),
        Order.objects.count(),
        OrderLine.objects.count(),
        Event.objects.count(),
        ImportBatch.objects.count(),
    )


@pytest.fixture
def product() -> Product:
    return Product.objects.create(sku="IG-1", name="Instagram aged", platform="instagram")


def _order(**overrides: Any) -> dict[str, Any]:
    return {
        "order_id": "A-1",
        "email": "buyer@example.com",
        "placed_at": "2026-11-20T10:00:00Z",
        "lines": [{"sku": "IG-1", "accounts": [{"username": "history_1", "likes": 3}]}],
        **overrides,
    }


def _file(*orders: dict[str, Any]) -> str:
    return "[\n" + ",\n".join(json.dumps(o) for o in orders) + "\n]"


@pytest.mark.parametrize(
    ("placed_at", "message"),
    [
        ("0001-01-01T00:00:00+14:00", "is outside the years 2000–2099"),
        ("1999-12-31T23:00:00Z", "is outside the years 2000–2099"),
        ("2100-01-01T00:00:00Z", "is outside the years 2000–2099"),
        ("9999-12-31T23:59:59-14:00", "is outside the years 2000–2099"),
        ("2026-11-28T12:00:00Z", "is in the future"),
    ],
)
def test_order_dates_the_pages_cannot_show_are_refused(
    product: Product, placed_at: str, message: str
) -> None:
    before = written()
    report, _ = run(orders_import, _file(_order(order_id="OK-1"), _order(placed_at=placed_at)))
    assert [str(e) for e in report.errors] == [
        f"line 3: order 'A-1': placed_at {placed_at!r} {message}"
    ]
    assert written() == before


def test_a_year_1_order_cannot_break_the_staff_pages(
    product: Product, admin_client: Client
) -> None:
    run(orders_import, _file(_order(placed_at="0001-01-01T00:00:00+14:00")))
    assert admin_client.get("/admin/orders/order/").status_code == 200
    assert admin_client.get("/admin/inventory/account/").status_code == 200
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        ("order_id", "\ud800", "order_id"),
        ("email", "a\u0000@example.com", "email"),
        ("notes", "\udfff", "lines[0].accounts[0].notes"),
    ],
)
def test_text_the_database_cannot_store_is_refused_in_an_order_file(
    product: Product, where: str, value: str, path: str
) -> None:
    order = _order()
    if where == "notes":
        order["lines"][0]["accounts"][0]["notes"] = value
    else:
        order[where] = value
    before = written()
    report, _ = run(orders_import, _file(_order(order_id="OK-1"), order))
    problems = [str(e) for e in report.errors]
    kind = "a NUL character" if "\u0000" in value else "invalid Unicode (an unpaired surrogate)"
    assert problems[0] == f"line 3: order: {path} contains {kind}"
    assert all(p.startswith("line 3: ") for p in problems)
    assert written() == before


def test_100000_deep_nesting_is_refused_at_once_with_its_line(product: Product) -> None:
    content = '[\n{"order_id": "A-1",\n "lines": ' + "[" * 100_000 + "]" * 100_000 + "}\n]"
    before = written()
    report, seconds = run(orders_import, content)
    assert [str(e) for e in report.errors] == ["line 3: not accepted: nested deeper than 16 levels"]
    assert seconds < 1.0
    assert written() == before


def test_a_5000_digit_number_is_refused_with_its_line(product: Product) -> None:
    content = _file(_order()).replace('"likes": 3', '"likes": ' + "9" * 5000)
    before = written()
    report, _ = run(orders_import, content)
    assert [str(e) for e in report.errors] == [
        "line 2: not accepted: a number with more than 30 digits"
    ]
    assert written() == before


def test_a_counter_of_10_to_the_12_is_refused(product: Product) -> None:
    report, _ = run(orders_import, _file(_order()).replace('"likes": 3', '"likes": 1000000000000'))
    assert [str(e) for e in report.errors] == [
        "line 2: order 'A-1': lines[0].accounts[0]: likes is too large (1000000000000)"
    ]
    csv = "sku,username,password,likes\nIG-1,stock_1,pw,1000000000000\n"
    before = written()
    report, _ = run(stock_import, csv)
    assert [str(e) for e in report.errors] == ["line 2: likes is too large (1000000000000)"]
    assert written() == before


def test_a_nul_byte_in_a_stock_csv_is_refused_with_its_line(product: Product) -> None:
    csv = b"sku,username,password\nIG-1,ok_1,pw\nIG-1,bad\x00name,pw\n"
    before = written()
    report, _ = run(stock_import, csv)
    assert [str(e) for e in report.errors] == ["line 3: contains a NUL byte (is this a text file?)"]
    assert written() == before


@pytest.mark.parametrize("service", [stock_import, products_import], ids=["stock", "products"])
def test_a_100000_column_header_is_refused_at_once(product: Product, service: Any) -> None:
    header = ",".join(["sku", *(f"c{i}" for i in range(100_000))])
    before = written()
    report, seconds = run(service, header + "\nIG-1\n")
    assert [str(e) for e in report.errors] == ["line 1: too many columns (100001; at most 64)"]
    assert seconds < 1.0
    assert written() == before


def test_a_header_repeating_one_column_is_named_once(product: Product) -> None:
    report, _ = run(stock_import, "sku,username,password,notes,notes\nIG-1,u,p,a,b\n")
    assert [str(e) for e in report.errors] == ["line 1: duplicated column(s): notes"]
