"""Requests, line claims, account decisions, replacement batches and staff users, plus the
shapes tests build from them: review cases, a waiting batch, a request with given decisions, a
delivered replacement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    Notification,
    ReplacementBatch,
    RequestStatus,
)
from compensation.services.roles import MANAGERS, SUPPORT_AGENTS, roles_ensure
from inventory.models import Account, Product
from orders.models import OrderLine

from .inventory import AccountFactory
from .orders import OrderFactory, OrderLineFactory, delivered_line


class CompensationRequestFactory(factory.django.DjangoModelFactory[CompensationRequest]):
    """A decided request (decided when it was received) for a fresh order."""

    class Meta:
        model = CompensationRequest

    order = factory.SubFactory(OrderFactory)
    email = factory.LazyAttribute(lambda o: o.order.email)
    reason = "The account got locked the day after."
    password_change_warning = False
    status = RequestStatus.DECIDED
    received_at = factory.LazyFunction(timezone.now)
    decided_at = factory.LazyAttribute(
        lambda o: o.received_at if o.status == RequestStatus.DECIDED else None
    )


class LineClaimFactory(factory.django.DjangoModelFactory[LineClaim]):
    class Meta:
        model = LineClaim

    request = factory.SubFactory(CompensationRequestFactory)
    line = factory.SubFactory(OrderLineFactory)


class ReplacementBatchFactory(factory.django.DjangoModelFactory[ReplacementBatch]):
    """A batch waiting for stock, for a request on its line's order."""

    class Meta:
        model = ReplacementBatch

    line = factory.SubFactory(OrderLineFactory)
    product = factory.LazyAttribute(lambda o: o.line.product)
    request = factory.SubFactory(
        CompensationRequestFactory, order=factory.SelfAttribute("..line.order")
    )
    quantity = 1
    approved_at = factory.LazyFunction(timezone.now)


class AccountDecisionFactory(factory.django.DjangoModelFactory[AccountDecision]):
    class Meta:
        model = AccountDecision

    claim = factory.SubFactory(LineClaimFactory)
    request = factory.LazyAttribute(lambda o: o.claim.request)
    account = factory.SubFactory(AccountFactory)
    decision = Decision.PENDING
    rule = ""


# --- staff -------------------------------------------------------------------------------------


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


# --- shapes ------------------------------------------------------------------------------------


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
    request = CompensationRequestFactory.create(
        order=line.order, received_at=now - timedelta(minutes=5)
    )
    claim = LineClaimFactory.create(request=request, line=line, uses_compensation=True)
    when = requested_at or now - timedelta(minutes=5)
    return [
        AccountDecisionFactory.create(
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
        line = OrderLineFactory.create(product=product, quantity=quantity)
    return ReplacementBatchFactory.create(
        line=line,
        product=product,
        quantity=quantity,
        approved_at=approved_at or timezone.now(),
    )


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
    request = CompensationRequestFactory.create(order=line.order, status=status, received_at=now)
    claim = LineClaimFactory.create(
        request=request,
        line=line,
        uses_compensation=any(
            d in (Decision.APPROVED, Decision.MANUAL_REVIEW) for d, _ in decisions
        ),
    )
    accounts = list(Account.objects.filter(line=line).order_by("id"))
    approved = sum(1 for d, _ in decisions if d == Decision.APPROVED)
    batch = (
        ReplacementBatchFactory.create(
            line=line, request=request, quantity=approved, approved_at=now
        )
        if approved
        else None
    )
    for account, (decision, rule) in zip(accounts, decisions, strict=True):
        AccountDecisionFactory.create(
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
    accounts = AccountFactory.create_batch(
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


def acknowledged(request: CompensationRequest, *, at: datetime | None = None) -> Notification:
    """The request's acknowledgement e-mail, already sent (later changes get update e-mails)."""
    return Notification.objects.create(
        key=f"request_received:{request.pk}",
        kind="request_received",
        to=request.order.email,
        order_id=request.order_id,
        request=request,
        state=Notification.State.SENT,
        sent_at=at or timezone.now(),
    )
