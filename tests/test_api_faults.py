"""The API under bad input and a failing database: every string the database cannot store is a
400 field error with nothing written; a dropped connection is retried once, then 503."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from compensation import api, views
from compensation.models import AccountDecision, CompensationRequest
from inventory.models import Account, Event, Product
from orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db
URL = "/api/v1/compensation-requests"
SURROGATE = "Invalid Unicode (an unpaired surrogate) is not allowed."
NUL = "Null characters are not allowed."


@pytest.fixture(autouse=True)
def _fresh_rate_limit() -> None:
    cache.clear()


@pytest.fixture
def order() -> Order:
    product = Product.objects.create(sku="IG-1", name="Instagram aged", platform="instagram")
    order = Order.objects.create(
        order_id="B-100", email="buyer@example.com", placed_at=timezone.now() - timedelta(days=2)
    )
    line = OrderLine.objects.create(order=order, product=product, quantity=1)
    Account.objects.create(
        product=product,
        platform="instagram",
        username="ig_b100",
        credentials_sealed="x",
        state="delivered",
        line=line,
        delivered_at=order.placed_at,
        delivery_kind="sale",
    )
    return order


def _post(client: Client, raw: str) -> Any:
    return client.post(URL, data=raw, content_type="application/json")


def _body(order: Order, **overrides: Any) -> dict[str, Any]:
    return {
        "email": order.email,
        "order_id": order.order_id,
        "reason": "locked",
        "password_change_warning": False,
        **overrides,
    }


def _nothing_written() -> None:
    assert CompensationRequest.objects.count() == 0
    assert AccountDecision.objects.count() == 0
    assert not Event.objects.filter(kind="request_received").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("order_id", "\ud800", SURROGATE),
        ("order_id", "B-\x00100", NUL),
        ("reason", "locked \udfff", SURROGATE),
        ("reason", "locked\x00", NUL),
        ("email", "buyer@\ud800.com", SURROGATE),
        ("email", "\ud800@example.com", "Enter a valid e-mail address."),
    ],
    ids=["order-surrogate", "order-nul", "reason-surrogate", "reason-nul", "domain", "local"],
)
def test_strings_the_database_cannot_store_are_a_field_error(
    client: Client, order: Order, field: str, value: str, message: str
) -> None:
    raw = json.dumps(_body(order, **{field: value}))  # ensure_ascii: "\ud800" stays an escape
    response = _post(client, raw)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}
    _nothing_written()


def test_a_surrogate_in_a_sku_or_a_field_name_is_a_400(client: Client, order: Order) -> None:
    response = _post(client, json.dumps(_body(order, lines=["IG-\ud800"])))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["lines"]
    response = _post(client, json.dumps({**_body(order), "\ud800": 1}))
    assert response.status_code == 400
    assert response.json()["errors"]["__all__"] == ["Unknown field(s): \ufffd"]
    _nothing_written()


@pytest.mark.django_db(transaction=True)  # the retry happens outside any transaction
def test_a_dropped_connection_is_retried_once_and_the_request_is_taken(
    client: Client, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = api.request_submit
    calls: list[int] = []

    def drops_once(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(api, "request_submit", drops_once)
    response = _post(client, json.dumps(_body(order)))
    assert response.status_code == 202
    assert len(calls) == 2
    assert CompensationRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_twice_is_a_503_with_retry_after(
    client: Client, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_drops(**kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(api, "request_submit", always_drops)
    response = _post(client, json.dumps(_body(order)))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "try again" in response.json()["error"]
    _nothing_written()


@pytest.mark.django_db(transaction=True)
def test_the_web_form_answers_503_and_keeps_the_input_when_the_database_is_gone(
    client: Client, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_drops(**kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "request_submit", always_drops)
    response = client.post(
        "/",
        {
            "email": order.email,
            "order_id": order.order_id,
            "reason": "account_locked",
            "password_change_warning": "no",
        },
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert "Please send the form again shortly." in body
    assert order.order_id in body  # the customer's input is kept
    _nothing_written()
