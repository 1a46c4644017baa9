from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from inventory.crypto import Credentials, credentials_seal
from inventory.models import Account, Product
from orders.models import Order, OrderLine


class ProductFactory(factory.django.DjangoModelFactory[Product]):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    platform = "instagram"


class AccountFactory(factory.django.DjangoModelFactory[Account]):
    """An in-stock account with a full zero baseline and 250 followers (the policy's examples)."""

    class Meta:
        model = Account

    product = factory.SubFactory(ProductFactory)
    platform = factory.LazyAttribute(lambda o: o.product.platform)
    username = factory.Sequence(lambda n: f"user_{n:05d}")
    platform_user_id = factory.Sequence(lambda n: str(100000 + n))
    credentials_sealed = factory.LazyAttribute(
        lambda o: credentials_seal(
            Credentials(password=f"pw-{o.username}", email=f"{o.username}@mail.test")
        )
    )
    baseline_followers = 250
    baseline_posts = 0
    baseline_reposts = 0
    baseline_comments = 0
    baseline_likes = 0
    baseline_follows = 0
    baseline_messages = 0


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
