"""POST /api/v1/orders: the refusals before and around the order (Django's test client; the
accepted, repeated, unsigned and unstocked pushes run over real HTTP in test_storefront_orders)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from orders.api import MAX_BODY_BYTES
from orders.models import Order
from orders.services import orders_import
from orders.storefront import order_receive

from .test_storefront_orders import SECRET, order, sign, stock, world

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders"


@pytest.fixture(autouse=True)
def _shop(settings: Any) -> None:
    settings.SHOP_API_SECRET = SECRET
    settings.SHOP_API_RATE_LIMIT = "0"
    cache.clear()


def push(client: Client, body: bytes, signature: str | None = "sign") -> Any:
    extra: dict[str, Any] = {}
    if signature is not None:
        extra["HTTP_X_SIGNATURE"] = sign(body) if signature == "sign" else signature
    return client.post(URL, data=body, content_type="application/json", **extra)


def test_an_invalid_order_gets_every_message_of_the_import(client: Client) -> None:
    stock("IG-AGED", 1)
    bad = order(
        email="not-an-email",
        lines=[{"sku": "NOPE", "quantity": 1}, {"sku": "IG-AGED", "quantity": 0}],
        extra=True,
    )
    # What import_orders says about the same order in a file.
    report = orders_import(
        source=io.BytesIO(json.dumps([bad]).encode()),
        filename="same.json",
        actor=None,
        now=timezone.now(),
        dry_run=True,
    )
    expected = [error.message for error in report.errors]
    assert len(expected) == 4
    before = world()

    response = push(client, json.dumps(bad).encode())

    assert response.status_code == 400
    assert response.json() == {"errors": {"__all__": expected}}
    assert world() == before


def test_a_history_username_taken_is_the_imports_400(client: Client) -> None:
    stock("X-FRESH", 0)
    line = {"sku": "X-FRESH", "accounts": [{"username": "x_one", "password": "pw"}]}
    assert push(client, json.dumps(order("H1", lines=[line])).encode()).status_code == 201
    before = world()

    response = push(client, json.dumps(order("H2", lines=[line])).encode())

    assert response.status_code == 400
    assert response.json() == {
        "errors": {"__all__": ["order 'H2': username 'x_one' already exists on instagram"]}
    }
    assert world() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"order_id": "A1', "not valid JSON: Unterminated string starting at (column 14)"),
        (b"\xff\xfe", "not valid UTF-8; send the body as UTF-8"),
        (b"[]", "each order must be a JSON object"),
        (b'{"order_id": "A\\u0000"}', "null characters are not allowed"),
    ],
)
def test_a_body_that_is_not_one_json_order_is_400(
    client: Client, body: bytes, message: str
) -> None:
    response = push(client, body)
    assert response.status_code == 400
    assert response.json() == {"errors": {"__all__": [message]}}
    assert Order.objects.count() == 0


def test_without_a_secret_the_endpoint_is_off(client: Client, settings: Any) -> None:
    settings.SHOP_API_SECRET = ""
    body = json.dumps(order()).encode()
    assert push(client, body).status_code == 404
    assert client.get(URL).status_code == 404


def test_only_post_is_answered(client: Client) -> None:
    response = client.get(URL)
    assert (response.status_code, response["Allow"]) == (405, "POST")


def test_a_body_over_the_limit_is_413_before_the_signature(client: Client) -> None:
    body = json.dumps(order(padding="x" * MAX_BODY_BYTES)).encode()
    response = push(client, body, signature=None)
    assert response.status_code == 413
    assert Order.objects.count() == 0


def test_pushes_have_their_own_rate_limit(client: Client, settings: Any) -> None:
    settings.SHOP_API_RATE_LIMIT = "2/m"
    settings.COMPENSATION_RATE_LIMIT = "1000/m"
    stock("IG-AGED", 6)
    answers = [push(client, json.dumps(order(f"R{n}")).encode()) for n in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2]["Retry-After"] == "60"
    assert sorted(Order.objects.values_list("order_id", flat=True)) == ["R0", "R1"]
    # The customers' limit is another counter: still open for this address.
    assert client.post("/api/v1/compensation-requests", data={}).status_code != 429


def test_a_push_racing_its_twin_is_answered_as_a_repeat() -> None:
    stock("IG-AGED", 4)
    now = timezone.now()
    assert order_receive(raw=order(), now=now).outcome == "created"
    assert order_receive(raw=order(), now=now).outcome == "unchanged"
    other = order(lines=[{"sku": "IG-AGED", "quantity": 1}])
    assert order_receive(raw=other, now=now).outcome == "conflict"


def test_an_order_imported_from_a_file_is_a_conflict_unless_byte_identical() -> None:
    stock("IG-AGED", 4)
    now = timezone.now()
    file_order = order()
    report = orders_import(
        source=io.BytesIO(json.dumps([file_order, order("B2")]).encode()),
        filename="orders.json",
        actor=None,
        now=now,
    )
    assert report.ok
    assert order_receive(raw=file_order, now=now).outcome == "conflict"


def test_a_pushed_id_in_another_case_is_the_same_order() -> None:
    stock("IG-AGED", 4)
    now = timezone.now()
    assert order_receive(raw=order("S100"), now=now).outcome == "created"

    again = order_receive(raw=order("s100 "), now=now)

    assert (again.outcome, Order.objects.count()) == ("conflict", 1)  # never a second order
