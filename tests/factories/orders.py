"""Orders and their lines (and a line with its accounts already delivered)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from inventory.models import Account, Product
from orders.models import Order, OrderLine

from .inventory import AccountFactory, ProductFactory


class OrderFactory(factory.django.DjangoModelFactory[Order]):
    class Meta:
        model = Order

    order_id = factory.Sequence(lambda n: f"A{1000 + n}")
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))


class OrderLineFactory(factory.django.DjangoModelFactory[OrderLine]):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1


def make_order(**kwargs: Any) -> Order:
    return OrderFactory.create(**kwargs)


def make_line(**kwargs: Any) -> OrderLine:
    return OrderLineFactory.create(**kwargs)


def delivered_line(
    *,
    quantity: int = 1,
    order: Order | None = None,
    product: Product | None = None,
    **account_kwargs: object,
) -> OrderLine:
    """An order line with `quantity` accounts already delivered to it as a sale."""
    order = order or OrderFactory.create()
    product = product or ProductFactory.create()
    line = OrderLineFactory.create(order=order, product=product, quantity=quantity)
    AccountFactory.create_batch(
        quantity,
        product=product,
        state=Account.State.DELIVERED,
        line=line,
        delivered_at=order.placed_at,
        delivery_kind=Account.DeliveryKind.SALE,
        **account_kwargs,
    )
    return line
