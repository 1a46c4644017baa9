"""Reads of the compensation desk. The customer view of a request is built once here, so the
JSON API and the result page never disagree."""

from __future__ import annotations

import json
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import ProgrammingError, connection
from django.utils.translation import gettext as _

from compensation import rules
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
)
from inventory.models import Account, Product
from orders.models import Order, OrderLine


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


# The only evidence the customer's messages read (see rules.rule_message): fetched as three keys,
# not as the whole evidence document of every account.
_MESSAGE_EVIDENCE = (
    "earlier_request_received_at",
    "follower_drop_window_days",
    "claim_window_days",
)


def _message(decision: str, rule: str, customer_message: str, evidence: dict[str, Any]) -> str:
    if decision == Decision.PENDING:
        return _("We are checking this account's public profile.")
    if customer_message:
        return customer_message
    return str(rules.rule_message(rule, evidence))


def _replacement(batch_state: str | None) -> dict[str, str] | None:
    if batch_state is None:
        return None
    state = "delivered" if batch_state == ReplacementBatch.State.DELIVERED else "awaiting_stock"
    return {"state": state}


def request_view(*, request_id: uuid.UUID) -> RequestView | None:
    return request_views(request_ids=[request_id]).get(request_id)


def request_views(*, request_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, RequestView]:
    """The views of many requests, whatever their number, in one query (plus one for requests
    without any decision); unknown ids are left out. The customer's GET is served by it (the API
    and the result page), and the webhook outbox builds one per event inside the writing
    transaction: it reads only the columns the view shows, never whole rows (no credentials, no
    evidence documents), as plain tuples."""
    wanted = list(request_ids)
    heads: dict[uuid.UUID, tuple[str, str, datetime]] = {}
    lines: dict[uuid.UUID, dict[int, LineView]] = {}
    for row in _view_rows(wanted):
        request_id, order_id, status, received_at, line_id, sku, name = row[:7]
        username, decision, rule, customer_message, reviewed, batch_state = row[7:13]
        evidence = {k: v for k, v in zip(_MESSAGE_EVIDENCE, row[13:], strict=True) if v is not None}
        heads.setdefault(request_id, (order_id, status, received_at))
        by_line = lines.setdefault(request_id, {})
        view = by_line.get(line_id)
        if view is None:
            view = by_line[line_id] = LineView(sku=sku, product_name=name)
        view.accounts.append(
            AccountView(
                username=username,
                decision=decision,
                rule=rule,
                message=_message(decision, rule, customer_message, evidence),
                reviewed=reviewed,
                replacement=_replacement(batch_state),
            )
        )
    without_decisions = [r for r in wanted if r not in heads]
    if without_decisions:
        for request_id, order_id, status, received_at in CompensationRequest.objects.filter(
            id__in=without_decisions
        ).values_list("id", "order__order_id", "status", "received_at"):
            heads[request_id] = (order_id, status, received_at)
    return {
        request_id: RequestView(
            id=request_id,
            order_id=order_id,
            status=status,
            created_at=received_at,
            lines=list(lines.get(request_id, {}).values()),
        )
        for request_id, (order_id, status, received_at) in heads.items()
    }


def _view_rows(request_ids: list[uuid.UUID]) -> Iterable[tuple[Any, ...]]:
    """(request id, order id, status, received at, line id, sku, product name, username,
    decision, rule, customer message, reviewed, batch state, *the message evidence) per account,
    by request, line and account."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return _view_rows_prepared(request_ids)
    return (
        AccountDecision.objects.filter(request_id__in=request_ids)
        .order_by("request_id", "claim__line_id", "account_id")
        .values_list(
            "request_id",
            "request__order__order_id",
            "request__status",
            "request__received_at",
            "claim__line_id",
            "claim__line__product__sku",
            "claim__line__product__name",
            "account__username",
            "decision",
            "rule",
            "customer_message",
            "reviewed",
            "batch__state",
            *(f"evidence__{key}" for key in _MESSAGE_EVIDENCE),
        )
    )


# The customer's GET (API and result page, polled while checks run) on PostgreSQL: the same rows
# through a statement prepared once per connection. Planning an eight-table join cost more than
# running it, and so did building it with the ORM; both happened on every poll.
_PREPARED_VIEW = "compensation_request_view"
_prepared_on: weakref.WeakSet[Any] = weakref.WeakSet()


def _prepared_view_sql() -> str:
    t = {
        m.__name__: m._meta.db_table
        for m in (AccountDecision, CompensationRequest, ReplacementBatch, LineClaim, Account)
    }
    evidence = ", ".join(f"d.evidence -> '{key}'" for key in _MESSAGE_EVIDENCE)
    return f"""
        PREPARE {_PREPARED_VIEW} (uuid[]) AS
        SELECT d.request_id, o.order_id, r.status, r.received_at, c.line_id, p.sku, p.name,
               a.username, d.decision, d.rule, d.customer_message, d.reviewed, b.state,
               {evidence}
          FROM {t["AccountDecision"]} d
          JOIN {t["CompensationRequest"]} r ON r.id = d.request_id
          JOIN {Order._meta.db_table} o ON o.id = r.order_id
          JOIN {t["LineClaim"]} c ON c.id = d.claim_id
          JOIN {OrderLine._meta.db_table} l ON l.id = c.line_id
          JOIN {Product._meta.db_table} p ON p.id = l.product_id
          JOIN {t["Account"]} a ON a.id = d.account_id
          LEFT JOIN {t["ReplacementBatch"]} b ON b.id = d.batch_id
         WHERE d.request_id = ANY($1)
         ORDER BY d.request_id, c.line_id, d.account_id
    """  # noqa: S608 - table names from the models, the one value is a parameter


def _view_rows_prepared(request_ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    connection.ensure_connection()
    with connection.cursor() as cursor:
        for attempt in range(2):
            if connection.connection not in _prepared_on:
                cursor.execute(_prepared_view_sql())
                _prepared_on.add(connection.connection)
            try:
                cursor.execute(f"EXECUTE {_PREPARED_VIEW} (%s)", [request_ids])
                break
            except ProgrammingError:  # the statement was discarded (DISCARD ALL): prepare again
                _prepared_on.discard(connection.connection)
                if attempt:
                    raise
        evidence_at = 13
        return [
            (*row[:evidence_at], *(None if v is None else json.loads(v) for v in row[evidence_at:]))
            for row in cursor.fetchall()
        ]


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
