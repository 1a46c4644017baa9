"""Typed shortcuts over tests/factories.py for the inventory/orders tests (factory-boy's calls
are typed as returning the factory, not the model)."""

from __future__ import annotations

from typing import Any, cast

from inventory.models import Account, Product
from orders.models import Order, OrderLine

from .factories import AccountFactory, OrderFactory, OrderLineFactory, ProductFactory


def make_product(**kwargs: Any) -> Product:
    return cast(Product, ProductFactory(**kwargs))


def make_account(**kwargs: Any) -> Account:
    return cast(Account, AccountFactory(**kwargs))


def make_accounts(count: int, **kwargs: Any) -> list[Account]:
    return cast(list[Account], AccountFactory.create_batch(count, **kwargs))


def make_order(**kwargs: Any) -> Order:
    return cast(Order, OrderFactory(**kwargs))


def make_line(**kwargs: Any) -> OrderLine:
    return cast(OrderLine, OrderLineFactory(**kwargs))
