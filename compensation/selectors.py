"""Reads of the compensation desk. The customer view of a request is built once here, so the
JSON API and the result page never disagree."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from compensation import rules
from compensation.models import AccountDecision, CompensationRequest, Decision, ReplacementBatch


@dataclass(frozen=True)
class AccountView:
    username: str
    decision: str
    rule: str
    message: str
    reviewed: bool
    replacement: dict[str, str] | None


@dataclass(frozen=True)
class LineView:
    sku: str
    product_name: str
    accounts: list[AccountView] = field(default_factory=list)


@dataclass(frozen=True)
class RequestView:
    id: uuid.UUID
    order_id: str
    status: str
    created_at: datetime
    lines: list[LineView]

    def count(self, decision: str) -> int:
        return sum(1 for line in self.lines for a in line.accounts if a.decision == decision)

    @property
    def awaiting_stock(self) -> int:
        return sum(
            1
            for line in self.lines
            for a in line.accounts
            if a.replacement and a.replacement["state"] == "awaiting_stock"
        )

    @property
    def delivered(self) -> int:
        return sum(
            1
            for line in self.lines
            for a in line.accounts
            if a.replacement and a.replacement["state"] == "delivered"
        )


def _message(d: AccountDecision) -> str:
    if d.decision == Decision.PENDING:
        return _("We are checking this account's public profile.")
    decided = str(rules.rule_message(d.rule, d.evidence, decision=d.decision))
    if d.customer_message:
        # Staff wrote to the customer: a rejection's reason replaces the rule's text; a note on
        # an approval comes after the news that a replacement is coming.
        return (
            f"{decided} {d.customer_message}"
            if d.decision == Decision.APPROVED
            else (d.customer_message)
        )
    return decided


def _replacement(d: AccountDecision) -> dict[str, str] | None:
    if d.batch is None:
        return None
    state = "delivered" if d.batch.state == ReplacementBatch.State.DELIVERED else "awaiting_stock"
    return {"state": state}


def request_view(*, request_id: uuid.UUID) -> RequestView | None:
    return request_views(request_ids=[request_id]).get(request_id)


def request_views(*, request_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, RequestView]:
    """The views of many requests in two queries, whatever their number (the webhook outbox
    builds one per event inside the writing transaction); unknown ids are left out."""
    requests = {
        r.id: r
        for r in CompensationRequest.objects.select_related("order").filter(
            id__in=list(request_ids)
        )
    }
    if not requests:
        return {}
    decisions = (
        AccountDecision.objects.filter(request_id__in=list(requests))
        .select_related("account", "claim__line__product", "batch")
        .order_by("claim__line_id", "account_id")
    )
    lines: dict[uuid.UUID, dict[int, LineView]] = {request_id: {} for request_id in requests}
    for d in decisions:
        line = d.claim.line
        by_line = lines[d.request_id]
        view = by_line.get(line.id)
        if view is None:
            view = by_line[line.id] = LineView(sku=line.product.sku, product_name=line.product.name)
        view.accounts.append(
            AccountView(
                username=d.account.username,
                decision=d.decision,
                rule=d.rule,
                message=_message(d),
                reviewed=d.reviewed,
                replacement=_replacement(d),
            )
        )
    return {
        request.id: RequestView(
            id=request.id,
            order_id=request.order.order_id,
            status=request.status,
            created_at=request.received_at,
            lines=list(lines[request.id].values()),
        )
        for request in requests.values()
    }


def request_view_json(view: RequestView) -> dict[str, Any]:
    """The body of docs/api.md. No credentials, ever."""
    return {
        "id": str(view.id),
        "order_id": view.order_id,
        "status": view.status,
        "created_at": view.created_at.isoformat().replace("+00:00", "Z"),
        "lines": [
            {
                "sku": line.sku,
                "accounts": [
                    {
                        "username": a.username,
                        "decision": a.decision,
                        "rule": a.rule or None,
                        "message": a.message,
                        "reviewed": a.reviewed,
                        "replacement": a.replacement,
                    }
                    for a in line.accounts
                ],
            }
            for line in view.lines
        ],
    }
