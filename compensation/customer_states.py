"""What the customer is told about one account of a request: its state, derived in one place.

The result page, the API `message`, every e-mail and the order page read an `AccountStatus`
built by `account_status()`; `compensation.customer_messages` turns it into the one sentence
the customer reads. Pure: no ORM, no clock, no HTTP (the selector gathers the facts).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The decision values of compensation.models.Decision (kept as plain strings: this module is pure).
PENDING, APPROVED, MANUAL_REVIEW, REJECTED, UNVERIFIED = (
    "pending",
    "approved",
    "manual_review",
    "rejected",
    "unverified",
)
ALREADY_COMPENSATED_RULE = "already_compensated"

# The evidence keys the customer's words read (compensation.customer_messages and
# compensation.rules.rule_message); a view carries only these, so every way of reading a request
# (the ORM, the prepared statement of compensation.selectors_prepared) yields the same sentences.
# tests/test_request_view_prepared.py fails when a sentence reads a key missing here.
CUSTOMER_EVIDENCE_KEYS = (
    "follower_drop_window_days",
    "claim_window_days",
    "earlier_request_received_at",
)


def customer_evidence(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of a decision's evidence the customer's words read."""
    if not isinstance(evidence, Mapping):
        return {}
    return {key: evidence[key] for key in CUSTOMER_EVIDENCE_KEYS if key in evidence}


class AccountState(enum.StrEnum):
    """Where an account of a request stands, as the customer sees it."""

    CHECKING = "checking"  # its public profile is being read now
    RECHECK = "recheck"  # could not be read; an automatic re-check is scheduled
    WITH_PERSON = "with_person"  # waiting for a member of staff
    APPROVED = "approved"  # approved; the replacement is being handed over
    WAITING_FOR_STOCK = "waiting_for_stock"  # approved; stock is short, it waits in the queue
    DELIVERED = "delivered"  # the replacement is on the order page
    NOT_REPLACED = "not_replaced"  # refused by a rule or by a person
    ALREADY_COMPENSATED = "already_compensated"  # the line's one compensation is elsewhere


# States in which something will still happen without the customer doing anything.
OPEN_STATES = frozenset(
    {
        AccountState.CHECKING,
        AccountState.RECHECK,
        AccountState.WITH_PERSON,
        AccountState.APPROVED,
        AccountState.WAITING_FOR_STOCK,
    }
)
# States the result page counts, in the order it lists them.
STATE_ORDER: tuple[AccountState, ...] = tuple(AccountState)


class EarlierRequest(enum.StrEnum):
    """For `already_compensated`: what became of the request that holds the line's compensation."""

    USED = "used"  # it approved a replacement for the line
    OPEN = "open"  # its cases for the line are still being checked or with a person
    RELEASED = "released"  # it ended without a replacement: the line is free again


@dataclass(frozen=True)
class BatchFacts:
    """The replacement batch of an approved account."""

    delivered_at: datetime | None
    approved_at: datetime
    # Set when fulfilment found the product's stock short for this batch.
    short_since: datetime | None
    queue_position: int | None = None  # 1 = next to be served, among waiting batches of the product


@dataclass(frozen=True)
class EarlierFacts:
    """For `already_compensated`: the earlier request that used (or holds) the line."""

    request_id: uuid.UUID | None
    received_at: datetime | None
    outcome: EarlierRequest


@dataclass(frozen=True)
class DecisionFacts:
    """One AccountDecision row and what hangs off it, as plain values."""

    decision: str
    rule: str
    reviewed: bool
    customer_message: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    next_check_at: datetime | None = None
    batch: BatchFacts | None = None
    earlier: EarlierFacts | None = None


@dataclass(frozen=True)
class AccountStatus:
    state: AccountState
    rule: str
    # True when a member of staff decided it (their message, if any, is `reviewer_message`).
    by_person: bool
    reviewer_message: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    next_check_at: datetime | None = None
    waiting_since: datetime | None = None
    queue_position: int | None = None
    delivered_at: datetime | None = None
    earlier: EarlierFacts | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def state_of(facts: DecisionFacts) -> AccountState:
    decision = facts.decision
    if decision == PENDING:
        return AccountState.CHECKING
    if decision == UNVERIFIED:
        return AccountState.RECHECK
    if decision == MANUAL_REVIEW:
        return AccountState.WITH_PERSON
    if decision == APPROVED:
        batch = facts.batch
        if batch is not None and batch.delivered_at is not None:
            return AccountState.DELIVERED
        if batch is not None and batch.short_since is not None:
            return AccountState.WAITING_FOR_STOCK
        return AccountState.APPROVED
    if facts.rule == ALREADY_COMPENSATED_RULE and not facts.reviewed:
        return AccountState.ALREADY_COMPENSATED
    return AccountState.NOT_REPLACED


def account_status(facts: DecisionFacts) -> AccountStatus:
    state = state_of(facts)
    batch = facts.batch
    return AccountStatus(
        state=state,
        rule=facts.rule,
        by_person=facts.reviewed,
        reviewer_message=facts.customer_message.strip() if facts.reviewed else "",
        evidence=facts.evidence,
        next_check_at=facts.next_check_at if state == AccountState.RECHECK else None,
        waiting_since=batch.approved_at
        if batch is not None and state == AccountState.WAITING_FOR_STOCK
        else None,
        queue_position=batch.queue_position
        if batch is not None and state == AccountState.WAITING_FOR_STOCK
        else None,
        delivered_at=batch.delivered_at if batch is not None else None,
        earlier=facts.earlier if state == AccountState.ALREADY_COMPENSATED else None,
    )


def earlier_outcome(*, decisions: list[str], still_uses_line: bool) -> EarlierRequest:
    """What became of an earlier request's cases for one line (its decisions for that line)."""
    if any(d == APPROVED for d in decisions):
        return EarlierRequest.USED
    if any(d in (PENDING, UNVERIFIED, MANUAL_REVIEW) for d in decisions):
        return EarlierRequest.OPEN
    return EarlierRequest.USED if still_uses_line else EarlierRequest.RELEASED
