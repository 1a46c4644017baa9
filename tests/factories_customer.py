"""Factories for the customer side: requests, claims, decisions and batches created directly."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import factory
from django.utils import timezone

from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
    RequestStatus,
)
from inventory.models import Account, Product
from orders.models import Order, OrderLine

from .factories import AccountFactory, OrderFactory, ProductFactory


class CompensationRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompensationRequest

    order = factory.SubFactory("tests.factories.OrderFactory")
    email = factory.LazyAttribute(lambda o: o.order.email)
    reason = "Account locked"
    password_change_warning = False
    received_at = factory.LazyFunction(timezone.now)
    status = RequestStatus.DECIDED


class LineClaimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LineClaim

    request = factory.SubFactory(CompensationRequestFactory)
    line = factory.SubFactory("tests.factories.OrderLineFactory")


class ReplacementBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReplacementBatch

    line = factory.SubFactory("tests.factories.OrderLineFactory")
    product = factory.LazyAttribute(lambda o: o.line.product)
    request = factory.SubFactory(
        CompensationRequestFactory, order=factory.SelfAttribute("..line.order")
    )
    quantity = 1
    approved_at = factory.LazyFunction(timezone.now)


class AccountDecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountDecision

    claim = factory.SubFactory(LineClaimFactory)
    request = factory.LazyAttribute(lambda o: o.claim.request)
    account = factory.SubFactory(AccountFactory)
    decision = Decision.PENDING
    rule = ""


def make_order(**kwargs: Any) -> Order:
    return cast(Order, OrderFactory(**kwargs))


def make_product(**kwargs: Any) -> Product:
    return cast(Product, ProductFactory(**kwargs))


def request_with_decisions(
    *,
    line: OrderLine,
    decisions: list[tuple[str, str]],
    status: str = RequestStatus.DECIDED,
    now: datetime | None = None,
) -> CompensationRequest:
    """A request for one line whose accounts (in id order) get the given (decision, rule) pairs.
    Approved accounts get one batch (waiting for stock)."""
    now = now or timezone.now()
    request = cast(
        CompensationRequest,
        CompensationRequestFactory(order=line.order, status=status, received_at=now),
    )
    claim = LineClaimFactory(
        request=request,
        line=line,
        uses_compensation=any(
            d in (Decision.APPROVED, Decision.MANUAL_REVIEW) for d, _ in decisions
        ),
    )
    accounts = list(Account.objects.filter(line=line).order_by("id"))
    approved = sum(1 for d, _ in decisions if d == Decision.APPROVED)
    batch = (
        ReplacementBatchFactory(line=line, request=request, quantity=approved, approved_at=now)
        if approved
        else None
    )
    for account, (decision, rule) in zip(accounts, decisions, strict=True):
        AccountDecisionFactory(
            request=request,
            claim=claim,
            account=account,
            decision=decision,
            rule=rule,
            batch=batch if decision == Decision.APPROVED else None,
            decided_at=None if decision == Decision.PENDING else now,
        )
    return request


def deliver_replacement(*, batch: ReplacementBatch, now: datetime | None = None) -> list[Account]:
    """Mark a batch delivered with fresh accounts of its product, as fulfilment would."""
    now = now or timezone.now()
    accounts: list[Account] = AccountFactory.create_batch(
        batch.quantity,
        product=batch.product,
        state=Account.State.DELIVERED,
        line=batch.line,
        delivered_at=now,
        delivery_kind=Account.DeliveryKind.COMPENSATION,
        replacement_batch=batch,
    )
    batch.state = ReplacementBatch.State.DELIVERED
    batch.delivered_at = now
    batch.save(update_fields=["state", "delivered_at"])
    return accounts


def link_in(body: object) -> str:
    """The order-page URL in an e-mail body."""
    import re

    match = re.search(r"https?://\S+/orders/link/[^/\s]+/", str(body))
    assert match is not None, "no order link in the e-mail"
    return match.group(0)
