"""Factories for the back office and fulfilment tests (requests, decisions, batches, staff)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from compensation.models import (
    AccountDecision,
    CannedReason,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
)
from compensation.services.roles import MANAGERS, SUPPORT_AGENTS, roles_ensure
from inventory.models import Account, Product
from orders.models import OrderLine

from .factories import (
    AccountFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    delivered_line,
)


class CompensationRequestFactory(factory.django.DjangoModelFactory[CompensationRequest]):
    class Meta:
        model = CompensationRequest

    order = factory.SubFactory(OrderFactory)
    email = factory.LazyAttribute(lambda o: o.order.email)
    reason = "The account got locked the day after."
    password_change_warning = False
    status = "decided"
    received_at = factory.LazyFunction(timezone.now)
    decided_at = factory.LazyFunction(timezone.now)


class CannedReasonFactory(factory.django.DjangoModelFactory[CannedReason]):
    class Meta:
        model = CannedReason

    text = factory.Sequence(lambda n: f"Canned reason {n}: the account was used after delivery.")


def staff_user(*, role: str | None, username: str | None = None, superuser: bool = False) -> User:
    roles_ensure()
    user = User.objects.create_user(
        username=username or f"{(role or 'staff').split()[0].lower()}-{User.objects.count()}",
        password="pw",
        is_staff=True,
        is_superuser=superuser,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


def agent(username: str | None = None) -> User:
    return staff_user(role=SUPPORT_AGENTS, username=username)


def manager(username: str | None = None) -> User:
    return staff_user(role=MANAGERS, username=username)


def review_cases(
    n: int = 1,
    *,
    requested_at: datetime | None = None,
    rule: str = "suspended_no_interaction",
    product: Product | None = None,
    decision: str = Decision.MANUAL_REVIEW,
    **line_kwargs: Any,
) -> list[AccountDecision]:
    """One request for one delivered line of `n` accounts, every account waiting for review."""
    line = delivered_line(quantity=n, product=product, **line_kwargs)
    now = timezone.now()
    request = cast(
        CompensationRequest,
        CompensationRequestFactory(order=line.order, received_at=now - timedelta(minutes=5)),
    )
    claim = LineClaim.objects.create(request=request, line=line, uses_compensation=True)
    when = requested_at or now - timedelta(minutes=5)
    return [
        AccountDecision.objects.create(
            request=request,
            claim=claim,
            account=account,
            decision=decision,
            rule=rule,
            decided_at=when,
            review_requested_at=when if decision == Decision.MANUAL_REVIEW else None,
            evidence={
                "rule": rule,
                "observation": {
                    "state": "suspended",
                    "username": account.username,
                    "user_id": account.platform_user_id,
                    "followers": 240,
                    "interactions": {"posts": 0, "likes": 0},
                },
                "baseline": {
                    "username": account.username,
                    "user_id": account.platform_user_id,
                    "followers": 250,
                    "interactions": {"posts": 0, "likes": 0},
                },
                "interactions": {"deltas": {"posts": 0, "likes": 0}, "total": 0, "complete": False},
                "order_age_seconds": 3 * 86400,
            },
        )
        for account in line.accounts.order_by("id")
    ]


def waiting_batch(
    *,
    product: Product,
    quantity: int,
    approved_at: datetime | None = None,
    line: OrderLine | None = None,
) -> ReplacementBatch:
    """A replacement batch waiting for stock, on its own order line of `product`."""
    if line is None:
        line = cast(OrderLine, OrderLineFactory(product=product, quantity=quantity))
    request = cast(CompensationRequest, CompensationRequestFactory(order=line.order))
    return ReplacementBatch.objects.create(
        line=line,
        product=product,
        request=request,
        quantity=quantity,
        approved_at=approved_at or timezone.now(),
    )


# Typed wrappers: the shared factories are not parametrised, so mypy sees factory instances.
def make_product(**kwargs: Any) -> Product:
    return cast(Product, ProductFactory(**kwargs))


def make_stock(n: int, *, product: Product, **kwargs: Any) -> list[Account]:
    return cast(list[Account], AccountFactory.create_batch(n, product=product, **kwargs))


def make_account(**kwargs: Any) -> Account:
    return cast(Account, AccountFactory(**kwargs))
