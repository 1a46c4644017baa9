"""Reads of the compensation desk for the customer: one typed view of a request that every
channel renders.

`request_view()` gathers the facts of every account (decision, batch, place in the product's
queue, the earlier request that holds a line's compensation), derives each account's state
(`customer_states`) and its sentence (`customer_messages`). The result page, the API, the
e-mails and the order page all read it, so they cannot disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from compensation import customer_messages as words
from compensation import selectors_prepared as prepared
from compensation.customer_states import (
    AccountState,
    AccountStatus,
    BatchFacts,
    DecisionFacts,
    account_status,
    customer_evidence,
)
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
)
from compensation.selectors_facts import earlier_facts, queue_positions


@dataclass(frozen=True)
class AccountView:
    decision_id: int
    account_id: int
    username: str
    # interfaces.md §3 fields (stable contract)
    decision: str
    rule: str
    reviewed: bool
    replacement: dict[str, str] | None
    # what the customer reads
    status: AccountStatus
    sentence: words.Sentence

    @property
    def state(self) -> AccountState:
        return self.status.state

    @property
    def message(self) -> str:
        return self.sentence.text

    @property
    def label(self) -> str:
        return words.state_label(self.status)

    @property
    def earlier_request_id(self) -> uuid.UUID | None:
        earlier = self.status.earlier
        return earlier.request_id if earlier else None


@dataclass(frozen=True)
class LineView:
    line_id: int
    sku: str
    product_name: str
    accounts: list[AccountView] = field(default_factory=list)


@dataclass(frozen=True)
class RequestView:
    id: uuid.UUID
    order_id: str
    status: str  # interfaces.md §3: checking | decided
    created_at: datetime
    lines: list[LineView]

    @property
    def accounts(self) -> list[AccountView]:
        return [a for line in self.lines for a in line.accounts]

    @property
    def statuses(self) -> list[AccountStatus]:
        return [a.status for a in self.accounts]

    @property
    def headline(self) -> str:
        return words.request_headline(self.statuses)

    @property
    def counters(self) -> list[tuple[str, str]]:
        """(state, "Waiting for a person: 3") for each state present, in a fixed order."""
        return [(s.value, words.count_label(s, n)) for s, n in words.state_counts(self.statuses)]

    def has(self, state: str) -> bool:
        return any(a.state == state for a in self.accounts)

    @property
    def any_with_person(self) -> bool:
        return self.has(AccountState.WITH_PERSON)

    @property
    def any_recheck(self) -> bool:
        return self.has(AccountState.RECHECK)

    @property
    def any_waiting_for_stock(self) -> bool:
        return self.has(AccountState.WAITING_FOR_STOCK)

    @property
    def any_delivered(self) -> bool:
        return self.has(AccountState.DELIVERED)

    @property
    def any_checking(self) -> bool:
        return self.has(AccountState.CHECKING)

    def count(self, state: AccountState) -> int:
        return sum(1 for a in self.accounts if a.state == state)

    @property
    def open_count(self) -> int:
        return words.open_count(self.statuses)


def account_views(decisions: list[AccountDecision]) -> dict[int, AccountView]:
    """The customer view of each decision (select_related account, claim and batch)."""
    positions = queue_positions({d.batch for d in decisions if d.batch is not None})
    earlier = earlier_facts({d.claim for d in decisions})
    views = {}
    for d in decisions:
        batch = d.batch
        views[d.id] = _account_view(
            decision_id=d.id,
            account_id=d.account_id,
            username=d.account.username,
            batch_state=batch.state if batch is not None else None,
            facts=DecisionFacts(
                decision=d.decision,
                rule=d.rule,
                reviewed=d.reviewed,
                customer_message=d.customer_message,
                evidence=customer_evidence(d.evidence),
                next_check_at=d.next_check_at,
                batch=BatchFacts(
                    delivered_at=batch.delivered_at,
                    approved_at=batch.approved_at,
                    short_since=batch.unavailable_notified_at,
                    queue_position=positions.get(batch.id),
                )
                if batch is not None
                else None,
                earlier=earlier.get(d.claim_id),
            ),
        )
    return views


def _account_view(
    *,
    decision_id: int,
    account_id: int,
    username: str,
    batch_state: str | None,
    facts: DecisionFacts,
) -> AccountView:
    status = account_status(facts)
    approved = batch_state is not None and facts.decision == Decision.APPROVED
    return AccountView(
        decision_id=decision_id,
        account_id=account_id,
        username=username,
        decision=facts.decision,
        rule=facts.rule,
        reviewed=facts.reviewed,
        replacement={
            "state": "delivered"
            if batch_state == ReplacementBatch.State.DELIVERED
            else "awaiting_stock"
        }
        if approved
        else None,
        status=status,
        sentence=words.account_sentence(status),
    )


def _prepared_view(request_id: uuid.UUID) -> RequestView | None:
    """request_views() for one request from compensation.selectors_prepared's one statement (a
    refused-as-already-compensated line adds earlier_facts' few queries)."""
    found = prepared.request_rows(request_id)
    if found is None:
        return None
    head, rows = found
    claims = {
        LineClaim(
            id=r.claim_id,
            request_id=request_id,
            line_id=r.line_id,
            refusal=r.refusal,
            refusal_detail=r.refusal_detail or {},
        )
        for r in rows
        if r.refusal == LineClaim.Refusal.ALREADY_COMPENSATED
    }
    earlier = earlier_facts(claims)
    lines: dict[int, LineView] = {}
    for r in rows:
        line = lines.get(r.line_id)
        if line is None:
            line = lines[r.line_id] = LineView(
                line_id=r.line_id, sku=r.sku, product_name=r.product_name
            )
        batch = (
            BatchFacts(
                delivered_at=r.batch_delivered_at,
                approved_at=r.batch_approved_at,
                short_since=r.batch_short_since,
                queue_position=r.queue_position,
            )
            if r.batch_id is not None and r.batch_approved_at is not None
            else None
        )
        facts = DecisionFacts(
            decision=r.decision,
            rule=r.rule,
            reviewed=r.reviewed,
            customer_message=r.customer_message,
            evidence=r.evidence,
            next_check_at=r.next_check_at,
            batch=batch,
            earlier=earlier.get(r.claim_id),
        )
        line.accounts.append(
            _account_view(
                decision_id=r.decision_id,
                account_id=r.account_id,
                username=r.username,
                batch_state=r.batch_state,
                facts=facts,
            )
        )
    return RequestView(
        id=request_id,
        order_id=head.order_id,
        status=head.status,
        created_at=head.received_at,
        lines=list(lines.values()),
    )


def request_view(*, request_id: uuid.UUID) -> RequestView | None:
    """One request's view: one prepared statement where compensation.selectors_prepared may use
    one (the customer's polls), else the queries of request_views()."""
    if prepared.usable():
        return _prepared_view(request_id)
    return request_views(request_ids=[request_id]).get(request_id)


def request_views(*, request_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, RequestView]:
    """The views of many requests in a fixed number of queries, whatever their number (the
    webhook outbox builds one per event inside the writing transaction); unknown ids are left
    out."""
    requests = {
        r.id: r
        for r in CompensationRequest.objects.select_related("order").filter(
            id__in=list(request_ids)
        )
    }
    if not requests:
        return {}
    decisions = list(
        AccountDecision.objects.filter(request_id__in=list(requests))
        .select_related("account", "claim__line__product", "batch")
        .defer("account__credentials_sealed")  # a customer's view never reads them
        .order_by("claim__line_id", "account_id")
    )
    views = account_views(decisions)
    lines: dict[uuid.UUID, dict[int, LineView]] = {request_id: {} for request_id in requests}
    for d in decisions:
        line = d.claim.line
        by_line = lines[d.request_id]
        view = by_line.get(line.id)
        if view is None:
            view = by_line[line.id] = LineView(
                line_id=line.id, sku=line.product.sku, product_name=line.product.name
            )
        view.accounts.append(views[d.id])
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


@dataclass(frozen=True)
class OrderAccountState:
    """The compensation state of one delivered account, for the order page."""

    request_id: uuid.UUID
    request_received_at: datetime
    view: AccountView


# What account_views() reads of a decision and its related rows (selected with them).
_ACCOUNT_VIEW_FIELDS = (
    *("id", "request", "claim", "account", "batch", "decision", "rule", "reviewed"),
    *("customer_message", "evidence", "next_check_at", "account__username"),
    *("claim__request", "claim__line", "claim__refusal", "claim__refusal_detail"),
    *(
        "batch__state",
        "batch__delivered_at",
        "batch__approved_at",
        "batch__unavailable_notified_at",
    ),
)


def order_account_states(*, order_id: int) -> dict[int, OrderAccountState]:
    """For each account of the order that was part of a request: its state in the latest one."""
    decisions = list(
        AccountDecision.objects.filter(request__order_id=order_id)
        .select_related("account", "claim", "batch", "request")
        .only(*_ACCOUNT_VIEW_FIELDS, "request__received_at")  # half the time of whole rows
        .order_by("account_id", "-request__received_at", "-id")
    )
    latest: dict[int, AccountDecision] = {}
    for d in decisions:
        latest.setdefault(d.account_id, d)
    views = account_views(list(latest.values()))
    return {
        account_id: OrderAccountState(
            request_id=d.request_id, request_received_at=d.request.received_at, view=views[d.id]
        )
        for account_id, d in latest.items()
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
