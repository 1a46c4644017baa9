"""Every database constraint of inventory and orders: a violation is an IntegrityError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from compensation.models import CompensationRequest, ReplacementBatch
from inventory.models import Account, Product
from orders.models import Order, OrderLine, OrderLink

from .factories.inventory import make_account, make_product
from .factories.orders import make_line, make_order

pytestmark = pytest.mark.django_db


def violates(action: Callable[[], Any]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        action()


def batch_for(line: OrderLine) -> ReplacementBatch:
    now = timezone.now()
    request = CompensationRequest.objects.create(
        order=line.order,
        email=line.order.email,
        reason="r",
        password_change_warning=False,
        received_at=now,
        status="decided",
    )
    return ReplacementBatch.objects.create(
        line=line, product=line.product, request=request, quantity=1, approved_at=now
    )


# --- products ----------------------------------------------------------------------------------
def test_product_sku_is_unique() -> None:
    make_product(sku="IG")
    violates(lambda: Product.objects.create(sku="IG", name="n", platform="x"))
    assert Product.objects.count() == 1


def test_product_claim_window_positive() -> None:
    violates(
        lambda: Product.objects.create(
            sku="A", name="n", platform="x", claim_window_days=0, follower_drop_window_days=0
        )
    )
    assert not Product.objects.exists()


def test_product_follower_window_within_claim_window() -> None:
    violates(
        lambda: Product.objects.create(
            sku="A", name="n", platform="x", claim_window_days=5, follower_drop_window_days=6
        )
    )
    Product.objects.create(
        sku="B", name="n", platform="x", claim_window_days=5, follower_drop_window_days=5
    )
    assert list(Product.objects.values_list("sku", flat=True)) == ["B"]


# --- accounts ----------------------------------------------------------------------------------
def test_username_unique_per_platform_case_insensitive() -> None:
    ig = make_product(platform="instagram")
    make_account(product=ig, username="Alice")
    violates(lambda: make_account(product=make_product(platform="instagram"), username="aLICE"))
    make_account(product=make_product(platform="x"), username="alice")  # another platform: fine
    assert Account.objects.count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "in_stock", "with_line": True},
        {"state": "in_stock", "delivered_at": True},
        {"state": "in_stock", "delivery_kind": "sale"},
        {"state": "delivered"},
        {"state": "delivered", "with_line": True, "delivery_kind": "sale"},
        {"state": "delivered", "with_line": True, "delivered_at": True},
        {"state": "lost"},
    ],
    ids=[
        "stock-on-line",
        "stock-delivered-at",
        "stock-kind",
        "delivered-no-line",
        "delivered-no-time",
        "delivered-no-kind",
        "unknown-state",
    ],
)
def test_account_state_matches_line(fields: dict[str, Any]) -> None:
    line = make_line()
    kwargs: dict[str, Any] = {
        "state": fields["state"],
        "delivery_kind": fields.get("delivery_kind", ""),
    }
    if fields.get("with_line"):
        kwargs["line"] = line
    if fields.get("delivered_at"):
        kwargs["delivered_at"] = timezone.now()
    violates(lambda: make_account(product=line.product, **kwargs))
    assert not Account.objects.exists()


def test_account_valid_states_are_accepted() -> None:
    line = make_line()
    make_account(product=line.product)
    make_account(
        product=line.product,
        state="delivered",
        line=line,
        delivered_at=timezone.now(),
        delivery_kind="sale",
    )
    make_account(product=line.product, state="retired")
    assert Account.objects.count() == 3


def test_compensation_delivery_needs_a_batch_and_a_batch_means_compensation() -> None:
    line = make_line()
    batch = batch_for(line)
    now = timezone.now()
    violates(
        lambda: make_account(
            product=line.product,
            state="delivered",
            line=line,
            delivered_at=now,
            delivery_kind="compensation",
        )
    )
    violates(
        lambda: make_account(
            product=line.product,
            state="delivered",
            line=line,
            delivered_at=now,
            delivery_kind="sale",
            replacement_batch=batch,
        )
    )
    make_account(
        product=line.product,
        state="delivered",
        line=line,
        delivered_at=now,
        delivery_kind="compensation",
        replacement_batch=batch,
    )
    assert Account.objects.count() == 1


def test_negative_baseline_is_refused() -> None:
    violates(lambda: make_account(baseline_followers=-1))
    violates(lambda: make_account(baseline_likes=-5))
    assert not Account.objects.exists()


def test_account_update_cannot_break_the_state_invariant() -> None:
    account = make_account()
    violates(lambda: Account.objects.filter(pk=account.pk).update(state="delivered"))
    assert Account.objects.get(pk=account.pk).state == "in_stock"


def test_product_with_accounts_cannot_be_deleted() -> None:
    account = make_account()
    violates(lambda: Product.objects.filter(pk=account.product_id).delete())


# --- orders ------------------------------------------------------------------------------------
def test_order_id_is_unique() -> None:
    make_order(order_id="A1")
    violates(lambda: make_order(order_id="A1"))
    assert Order.objects.count() == 1


def test_one_line_per_product_per_order() -> None:
    line = make_line()
    violates(lambda: OrderLine.objects.create(order=line.order, product=line.product, quantity=2))
    assert OrderLine.objects.count() == 1


def test_line_quantity_positive() -> None:
    order, product = make_order(), make_product()
    violates(lambda: OrderLine.objects.create(order=order, product=product, quantity=0))
    assert not OrderLine.objects.exists()


def test_order_link_token_hash_is_unique() -> None:
    order = make_order()
    now = timezone.now()
    OrderLink.objects.create(order=order, token_hash="h" * 64, created_at=now, expires_at=now)
    violates(
        lambda: OrderLink.objects.create(
            order=order, token_hash="h" * 64, created_at=now, expires_at=now
        )
    )
    assert OrderLink.objects.count() == 1
