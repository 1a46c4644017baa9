"""POST /api/v1/orders over real HTTP (docs/storefront.md): Django under pytest-django's live
server on 127.0.0.1, called with the documented Python sender and the documented curl line."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone

from inventory.crypto import credentials_open
from inventory.models import Account, Event, ImportBatch
from orders.models import Order, OrderLine

from .doc_snippets import python_snippet, snippet
from .factories.inventory import AccountFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "shop-secret-for-tests-0123456789"


@pytest.fixture(autouse=True)
def _shop(settings: Any) -> None:
    settings.SHOP_API_SECRET = SECRET
    settings.SHOP_API_RATE_LIMIT = "0"
    cache.clear()


@pytest.fixture
def send_order() -> Any:
    return python_snippet("send_order")["send_order"]


def stock(sku: str, count: int) -> Any:
    product = ProductFactory(sku=sku)
    AccountFactory.create_batch(count, product=product)
    return product


def order(order_id: str = "A1001", **overrides: Any) -> dict[str, Any]:
    placed = (timezone.now() - timedelta(days=1)).replace(microsecond=0)
    return {
        "order_id": order_id,
        "email": "buyer@example.com",
        "placed_at": placed.isoformat().replace("+00:00", "Z"),
        "lines": [{"sku": "IG-AGED", "quantity": 2}],
        **overrides,
    }


def post_raw(live_server: Any, body: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Signature"] = signature
    return requests.post(f"{live_server.url}/api/v1/orders", data=body, headers=headers, timeout=10)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def world() -> dict[str, Any]:
    """Everything an order push may write, to prove that a refused one wrote nothing."""
    return {
        "orders": list(Order.objects.values_list("order_id", "email", "placed_at")),
        "lines": list(OrderLine.objects.values_list("order_id", "product_id", "quantity")),
        "accounts": list(
            Account.objects.order_by("id").values_list("id", "state", "line_id", "delivered_at")
        ),
        "batches": list(ImportBatch.objects.values_list("id", "sha256")),
        "events": Event.objects.count(),
    }


def test_a_signed_order_is_accepted_and_its_sales_delivered_from_stock(
    live_server: Any, send_order: Any
) -> None:
    product = stock("IG-AGED", 3)

    response = send_order(live_server.url, SECRET, order())

    assert response.status_code == 201
    assert response.json() == {"order_id": "A1001", "created": True}
    created = Order.objects.get(order_id="A1001")
    line = OrderLine.objects.get(order=created)
    assert (line.product_id, line.quantity) == (product.pk, 2)
    delivered = Account.objects.filter(line=line, state=Account.State.DELIVERED)
    assert delivered.count() == 2
    assert set(delivered.values_list("delivery_kind", flat=True)) == {"sale"}
    assert Account.objects.filter(product=product, state=Account.State.IN_STOCK).count() == 1
    kinds = list(Event.objects.filter(order=created).values_list("kind", flat=True))
    assert sorted(kinds) == ["accounts_delivered", "order_imported"]
    assert created.import_batch is not None
    assert created.import_batch.filename == "storefront API: order A1001"


def test_the_same_order_again_is_200_and_nothing_is_duplicated(
    live_server: Any, send_order: Any
) -> None:
    stock("IG-AGED", 5)
    stock("X-FRESH", 1)
    first = order(lines=[{"sku": "IG-AGED", "quantity": 2}, {"sku": "X-FRESH", "quantity": 1}])
    assert send_order(live_server.url, SECRET, first).status_code == 201
    before = world()

    # A storefront's retry may serialise differently: other key and line order, whitespace,
    # "+00:00" instead of "Z". The same canonical JSON is the same order.
    again = {
        "lines": list(reversed(first["lines"])),
        "placed_at": first["placed_at"].replace("Z", "+00:00"),
        "email": first["email"],
        "order_id": first["order_id"],
    }
    body = json.dumps(again, indent=2).encode()
    response = post_raw(live_server, body, sign(body))

    assert response.status_code == 200
    assert response.json() == {"order_id": "A1001", "created": False}
    assert world() == before


def test_the_same_order_id_with_other_content_is_409_conflict(
    live_server: Any, send_order: Any
) -> None:
    stock("IG-AGED", 5)
    assert send_order(live_server.url, SECRET, order()).status_code == 201
    before = world()

    response = send_order(live_server.url, SECRET, order(lines=[{"sku": "IG-AGED", "quantity": 3}]))

    assert response.status_code == 409
    assert response.json() == {"error": "conflict", "order_id": "A1001"}
    assert world() == before


def test_a_missing_or_wrong_signature_is_401_and_writes_nothing(live_server: Any) -> None:
    stock("IG-AGED", 3)
    body = json.dumps(order()).encode()
    tampered = body.replace(b'"quantity": 2', b'"quantity": 3')
    assert tampered != body
    cases = {
        "tampered body": (tampered, sign(body)),
        "wrong secret": (body, sign(body, "another-secret-0123456789abcdef")),
        "missing header": (body, None),
        "empty header": (body, ""),
        "not sha256": (body, "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()),
        "bare hex": (body, sign(body).removeprefix("sha256=")),
    }
    before = world()

    answers = {
        case: (response.status_code, response.json())
        for case, (sent, signature) in cases.items()
        for response in [post_raw(live_server, sent, signature)]
    }

    assert answers == {case: (401, {"error": "invalid_signature"}) for case in cases}
    assert world() == before
    # The control: the same body correctly signed is accepted.
    assert post_raw(live_server, body, sign(body)).status_code == 201


def test_a_quantity_stock_cannot_cover_is_409_and_nothing_is_written(
    live_server: Any, send_order: Any
) -> None:
    stock("IG-AGED", 5)
    stock("X-FRESH", 1)
    before = world()

    response = send_order(
        live_server.url,
        SECRET,
        order(lines=[{"sku": "IG-AGED", "quantity": 2}, {"sku": "X-FRESH", "quantity": 2}]),
    )

    assert response.status_code == 409
    assert response.json() == {"error": "insufficient_stock", "order_id": "A1001"}
    assert world() == before


def test_history_accounts_are_recorded_sealed(live_server: Any, send_order: Any) -> None:
    ProductFactory(sku="X-FRESH", platform="x")
    pushed = order(
        lines=[
            {
                "sku": "X-FRESH",
                "accounts": [
                    {"username": "x_one", "user_id": "42", "password": "pw-1", "followers": 120}
                ],
            }
        ]
    )
    assert send_order(live_server.url, SECRET, pushed).status_code == 201
    account = Account.objects.get(username="x_one")
    assert (account.state, account.baseline_followers) == ("delivered", 120)
    assert "pw-1" not in account.credentials_sealed
    assert credentials_open(account.credentials_sealed).password == "pw-1"
    assert send_order(live_server.url, SECRET, pushed).status_code == 200


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl"
)
def test_the_documented_curl_line_works(live_server: Any) -> None:
    stock("IG-AGED", 2)
    script = snippet("curl").replace("2026-11-20T10:00:00Z", order()["placed_at"])
    done = subprocess.run(  # noqa: S603
        ["/bin/sh", "-c", script],
        env={**os.environ, "SHOP_API_SECRET": SECRET, "DESK": live_server.url},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(done.stdout) == {"order_id": "A1001", "created": True}
    assert Account.objects.filter(state=Account.State.DELIVERED).count() == 2
