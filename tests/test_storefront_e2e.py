"""End to end over real HTTP on 127.0.0.1: the storefront pushes an order (the documented
sender), the customer asks through the JSON API, the status service (a real double) finds the
account locked, the desk approves and delivers a replacement from stock, and the shop's receiver
gets `request.decided` and `replacement.delivered` with the request exactly as the JSON API
shows it — and no credential anywhere."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from inventory.crypto import credentials_open
from inventory.models import Account

from .doc_snippets import python_snippet
from .factories.inventory import AccountFactory, ProductFactory
from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

SHOP_SECRET = "shop-secret-for-tests-0123456789"
HOOK_SECRET = "whsec_receiver-secret-0123456789"


def test_an_order_pushed_by_the_api_ends_in_signed_webhooks_with_the_api_view(
    live_server: Any, settings: Any, status_double: Any
) -> None:
    settings.SHOP_API_SECRET = SHOP_SECRET
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.SHOP_API_RATE_LIMIT = "0"
    settings.COMPENSATION_RATE_LIMIT = "0"
    cache.clear()
    send_order = python_snippet("send_order")["send_order"]
    verify_webhook = python_snippet("verify_webhook")["verify_webhook"]
    product = ProductFactory(sku="IG-AGED", platform="instagram")
    AccountFactory.create_batch(2, product=product)  # one to sell, one to replace it

    with Receiver([200]) as receiver:
        call_command(
            "webhook_endpoint_add", receiver.url, "--secret", HOOK_SECRET, stdout=io.StringIO()
        )
        placed = timezone.now() - timedelta(days=2)
        pushed = send_order(
            live_server.url,
            SHOP_SECRET,
            {
                "order_id": "SHOP-7",
                "email": "buyer@example.com",
                "placed_at": placed.isoformat(),
                "lines": [{"sku": "IG-AGED", "quantity": 1}],
            },
        )
        assert pushed.status_code == 201
        sold = Account.objects.get(line__order__order_id="SHOP-7")
        status_double.set_profile(
            "instagram", sold.username, state="locked", user_id=sold.platform_user_id
        )

        asked = requests.post(
            f"{live_server.url}/api/v1/compensation-requests",
            json={
                "email": "buyer@example.com",
                "order_id": "SHOP-7",
                "reason": "Locked the day after I bought it.",
                "password_change_warning": False,
            },
            timeout=30,
        )
        assert asked.status_code == 202
        request_id = asked.json()["id"]
        final = requests.get(
            f"{live_server.url}/api/v1/compensation-requests/{request_id}", timeout=10
        ).json()

    assert receiver.types() == ["request.received", "request.decided", "replacement.delivered"]
    assert all(verify_webhook(HOOK_SECRET, r.headers, r.body) for r in receiver.received)
    received, decided, delivered = (r.json["data"]["request"] for r in receiver.received)
    assert {received["id"], decided["id"], delivered["id"]} == {request_id}
    assert received["status"] == "checking"
    assert decided["status"] == "decided"
    assert [a["decision"] for a in decided["lines"][0]["accounts"]] == ["approved"]
    assert decided["lines"][0]["accounts"][0]["replacement"] == {"state": "awaiting_stock"}
    assert final["lines"][0]["accounts"][0]["replacement"] == {"state": "delivered"}
    assert delivered == final  # the request exactly as the JSON API shows it

    # No credentials: none of any account's secrets appears in any delivery.
    secrets = set()
    for account in Account.objects.all():
        credentials = credentials_open(account.credentials_sealed)
        secrets |= {credentials.password, credentials.email}
    secrets.discard("")
    assert len(secrets) == 4
    for delivery in receiver.received:
        text = delivery.body.decode()
        assert not any(secret in text for secret in secrets)
        assert '"password' not in text and "email" not in text
