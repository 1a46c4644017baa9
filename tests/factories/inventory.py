"""Products and stock accounts."""

from __future__ import annotations

from typing import Any

import factory

from inventory.crypto import Credentials, credentials_seal
from inventory.models import Account, Product


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


def make_product(**kwargs: Any) -> Product:
    return ProductFactory.create(**kwargs)


def make_account(**kwargs: Any) -> Account:
    return AccountFactory.create(**kwargs)


def make_accounts(count: int, **kwargs: Any) -> list[Account]:
    """`count` accounts (in stock unless told otherwise); pass `product` to share one."""
    return AccountFactory.create_batch(count, **kwargs)
