"""Reads of the compensation desk for the customer: one typed view of a request that every
channel renders.

`request_view()` gathers the facts of every account (decision, batch, place in the product's
queue, the earlier request that holds a line's compensation), derives each account's state
(`customer_states`) and its sentence (`customer_messages`). The result page, the API, the
e-mails and the order page all read it, so they cannot disagree.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from compensation import customer_messages as words
from compensation.customer_states import (
    AccountState,
    AccountStatus,
    BatchFacts,
    DecisionFacts,
    EarlierFacts,
    EarlierRequest,
    account_status,
    earlier_outcome,
)
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
)


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


# --- facts ------------------------------------------------------------------------------------


def _queue_positions(batches: Iterable[ReplacementBatch]) -> dict[int, int]:
    """Place of each waiting batch in its product's first-come, first-served queue (1 = next),
    in one query: per batch, the waiting batches of its product approved before it (the FIFO
    index serves the count)."""
    waiting = [b.id for b in batches if b.state == ReplacementBatch.State.WAITING]
    if not waiting:
        return {}
    ahead = (
        ReplacementBatch.objects.filter(
            product_id=OuterRef("product_id"), state=ReplacementBatch.State.WAITING
        )
        .filter(
            Q(approved_at__lt=OuterRef("approved_at"))
            | Q(approved_at=OuterRef("approved_at"), id__lt=OuterRef("id"))
        )
        .order_by()
        .values("product_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return {
        batch_id: n + 1
        for batch_id, n in ReplacementBatch.objects.filter(id__in=waiting)
        .annotate(ahead=Coalesce(Subquery(ahead), 0))
        .values_list("id", "ahead")
    }


def _earlier_facts(claims: Iterable[LineClaim]) -> dict[int, EarlierFacts]:
    """For claims refused as already compensated: the request holding the line's compensation
    now (or, if none does any more, the one that held it when this request was received)."""
    refused = [c for c in claims if c.refusal == LineClaim.Refusal.ALREADY_COMPENSATED]
    if not refused:
        return {}
    line_ids = {c.line_id for c in refused}
    holders = {
        c.line_id: c
        for c in LineClaim.objects.filter(line_id__in=line_ids, uses_compensation=True)
        .select_related("request")
        .order_by("id")
    }
    chosen: dict[int, LineClaim | None] = {}
    for claim in refused:
        holder = holders.get(claim.line_id)
        if holder is None or holder.request_id == claim.request_id:
            holder = _recorded_earlier(claim)
        chosen[claim.id] = holder
    decisions: dict[int, list[str]] = defaultdict(list)
    for claim_id, decision in AccountDecision.objects.filter(
        claim_id__in=[h.pk for h in chosen.values() if h is not None]
    ).values_list("claim_id", "decision"):
        decisions[claim_id].append(decision)
    result: dict[int, EarlierFacts] = {}
    for claim_id, holder in chosen.items():
        if holder is None:
            result[claim_id] = EarlierFacts(None, None, EarlierRequest.USED)
            continue
        result[claim_id] = EarlierFacts(
            request_id=holder.request_id,
            received_at=holder.request.received_at,
            outcome=earlier_outcome(
                decisions=decisions[holder.pk], still_uses_line=holder.uses_compensation
            ),
        )
    return result


def _recorded_earlier(claim: LineClaim) -> LineClaim | None:
    detail = claim.refusal_detail or {}
    earlier = LineClaim.objects.select_related("request").filter(line_id=claim.line_id)
    if detail.get("earlier_request_id"):
        return earlier.filter(request_id=detail["earlier_request_id"]).first()
    received = detail.get("earlier_request_received_at")
    if not received:
        return None
    try:
        moment = datetime.fromisoformat(str(received))
    except ValueError:
        return None
    return earlier.filter(request__received_at=moment).first()


def account_views(decisions: list[AccountDecision]) -> dict[int, AccountView]:
    """The customer view of each decision (select_related account, claim and batch)."""
    positions = _queue_positions({d.batch for d in decisions if d.batch is not None})
    earlier = _earlier_facts({d.claim for d in decisions})
    views = {}
    for d in decisions:
        batch = d.batch
        facts = DecisionFacts(
            decision=d.decision,
            rule=d.rule,
            reviewed=d.reviewed,
            customer_message=d.customer_message,
            evidence=d.evidence or {},
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
        )
        status = account_status(facts)
        views[d.id] = AccountView(
            decision_id=d.id,
            account_id=d.account_id,
            username=d.account.username,
            decision=d.decision,
            rule=d.rule,
            reviewed=d.reviewed,
            replacement=_replacement(d),
            status=status,
            sentence=words.account_sentence(status),
        )
    return views


def _replacement(d: AccountDecision) -> dict[str, str] | None:
    if d.batch is None or d.decision != Decision.APPROVED:
        return None
    state = "delivered" if d.batch.state == ReplacementBatch.State.DELIVERED else "awaiting_stock"
    return {"state": state}


def request_view(*, request_id: uuid.UUID) -> RequestView | None:
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


def order_account_states(*, order_id: int) -> dict[int, OrderAccountState]:
    """For each account of the order that was part of a request: its state in the latest one."""
    decisions = list(
        AccountDecision.objects.filter(request__order_id=order_id)
        .select_related("account", "claim__line__product", "batch", "request")
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
