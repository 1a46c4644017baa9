"""Submitting a compensation request (web form and API).

`request_submit` records the request, decides the line-level refusals now (`outside_window`,
`already_compensated`), creates one decision per account (refused lines' accounts are rejected
with the line's rule; the others wait for the checks) and queues the checks after commit. One
request per order is in progress at a time (a database constraint): a second submission gets the
one in progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from compensation import rules
from compensation.events import line_refused_event, request_received_event
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    RequestStatus,
)
from compensation.services.approval import request_mark_decided
from compensation.services.checks import request_checks_queue
from compensation.services.email_schedule import acknowledgements_schedule
from compensation.services.facts import account_baseline
from compensation.webhooks.outbox import webhooks_emit
from inventory.models import Account
from orders.models import Order, OrderLine
from orders.selectors import order_find


class OrderNotFound(Exception):
    """Unknown order id or e-mail not matching it: one error, so nobody can probe which exists."""


class UnknownLines(Exception):
    def __init__(self, skus: Sequence[str]) -> None:
        super().__init__(", ".join(skus))
        self.skus = list(skus)


@dataclass(frozen=True)
class SubmitResult:
    request: CompensationRequest
    created: bool


def _clean_skus(skus: Iterable[str] | None) -> list[str]:
    seen: dict[str, None] = {}
    for sku in skus or ():
        sku = sku.strip()
        if sku:
            seen.setdefault(sku, None)
    return list(seen)


def sku_key(sku: str) -> str:
    """How a typed product code is matched to a line: ignoring case and runs of spaces, so
    "ig  aged 2019" finds "IG AGED 2019" (codes with spaces or odd characters stay choosable)."""
    return " ".join(sku.split()).casefold()


def request_submit(
    *,
    email: str,
    order_id: str,
    reason: str,
    password_change_warning: bool,
    skus: Sequence[str] | None,
    now: datetime,
) -> SubmitResult:
    """Accept a customer's request, or return the one already in progress for the order."""
    order = order_find(order_id)
    # Same exception, same work, for an unknown order and a wrong e-mail.
    if order is None or order.email.strip().casefold() != email.strip().casefold():
        raise OrderNotFound
    wanted = _clean_skus(skus)
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("id"))
    if wanted:
        by_sku = {sku_key(line.product.sku): line for line in lines}
        unknown = [sku for sku in wanted if sku_key(sku) not in by_sku]
        if unknown:
            raise UnknownLines(unknown)
        lines = sorted({by_sku[sku_key(sku)] for sku in wanted}, key=lambda ln: ln.id)

    for _ in range(3):
        existing = CompensationRequest.objects.filter(
            order=order, status=RequestStatus.CHECKING
        ).first()
        if existing is not None:
            return SubmitResult(request=existing, created=False)
        try:
            request = _request_create(
                order=order,
                lines=lines,
                email=email.strip(),
                reason=reason.strip(),
                password_change_warning=password_change_warning,
                skus=wanted,
                now=now,
            )
        except IntegrityError:
            # Another submission for this order won the race (one in progress per order).
            continue
        return SubmitResult(request=request, created=True)
    raise RuntimeError("could not create or find the request in progress")  # pragma: no cover


def _request_create(
    *,
    order: Order,
    lines: list[OrderLine],
    email: str,
    reason: str,
    password_change_warning: bool,
    skus: list[str],
    now: datetime,
) -> CompensationRequest:
    with transaction.atomic():
        request = CompensationRequest.objects.create(
            order=order,
            email=email,
            reason=reason,
            password_change_warning=password_change_warning,
            requested_skus=skus,
            received_at=now,
        )
        earlier_claims = {
            claim.line_id: claim
            for claim in LineClaim.objects.filter(
                line__in=lines, uses_compensation=True
            ).select_related("request")
        }
        earlier_use = {line_id: c.request.received_at for line_id, c in earlier_claims.items()}
        claims = [
            LineClaim(
                request=request,
                line=line,
                refusal=rules.line_refusal(
                    order_placed_at=order.placed_at,
                    now=now,
                    claim_window_days=line.product.claim_window_days,
                    earlier_use_received_at=earlier_use.get(line.id),
                )
                or "",
            )
            for line in lines
        ]
        for claim in claims:
            if claim.refusal == LineClaim.Refusal.ALREADY_COMPENSATED:
                claim.refusal_detail = {
                    "earlier_request_received_at": earlier_use[claim.line_id].isoformat(),
                    "earlier_request_id": str(earlier_claims[claim.line_id].request_id),
                }
        LineClaim.objects.bulk_create(claims)
        claim_by_line = {claim.line_id: claim for claim in claims}

        accounts = Account.objects.filter(
            line__in=lines, delivery_kind=Account.DeliveryKind.SALE
        ).order_by("line_id", "id")
        decisions = []
        for account in accounts:
            claim = claim_by_line[account.line_id]  # type: ignore[index]
            if claim.refusal:
                verdict = rules.line_verdict(
                    rule=claim.refusal,
                    baseline=account_baseline(account),
                    order_placed_at=order.placed_at,
                    now=now,
                    claim_window_days=claim.line.product.claim_window_days,
                    earlier_use_received_at=earlier_use.get(claim.line_id),
                )
                decisions.append(
                    AccountDecision(
                        request=request,
                        claim=claim,
                        account_id=account.id,
                        decision=verdict.decision,
                        rule=verdict.rule,
                        evidence=verdict.evidence,
                        decided_at=now,
                    )
                )
            else:
                decisions.append(
                    AccountDecision(request=request, claim=claim, account_id=account.id)
                )
        AccountDecision.objects.bulk_create(decisions, batch_size=1000)

        request_received_event(
            request=request,
            skus=[line.product.sku for line in lines],
            accounts=len(decisions),
            now=now,
        )
        webhooks_emit(event_type="request.received", request_ids=[request.id], now=now)
        for claim in claims:
            if claim.refusal:
                line_refused_event(claim=claim, order_id=order.id, now=now)
        # Before the request can be decided below: deciding it may send this at once.
        acknowledgements_schedule(requests=[request], now=now)
        if any(d.decision == Decision.PENDING for d in decisions):
            request_checks_queue(request_id=request.id)
        else:
            request_mark_decided(request=request, now=now)
    return request
