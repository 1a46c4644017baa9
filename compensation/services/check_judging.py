"""Judging one checked account: the rules' verdict on the status service's answer, and everything
its decision row and event will hold, made while the other calls are still running (the store's
transaction then only writes; `check_store`).

Nothing here writes or locks: it reads the facts the decision row carries and builds values.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from compensation import rules
from compensation.customer_history import customer_claim_rate_flagged
from compensation.events import account_decided_event
from compensation.models import AccountDecision, Decision
from compensation.services.approval import DECIDED_FIELDS
from compensation.services.facts import account_facts
from inventory.audit import PreparedEvent
from inventory.bulk import row_record
from inventory.validation import json_storable

log = logging.getLogger(__name__)

# PositiveIntegerField on PostgreSQL: the stored count of interactions never exceeds it (the
# evidence keeps the counters as observed).
MAX_STORED_INTERACTIONS = 2_147_483_647

# The columns a check writes on a decision row, but for the batch (known only inside the store).
OUTCOME_FIELDS = tuple(name for name in DECIDED_FIELDS if name != "batch")


@dataclass(frozen=True)
class Outcome:
    """What one check writes on its account's decision row (`OUTCOME_FIELDS`)."""

    decision: str
    rule: str
    interactions: int | None
    evidence: dict[str, Any]
    decided_at: datetime
    check_attempts: int  # the round the evidence was made for (the store compares and sets)
    next_check_at: datetime | None
    review_requested_at: datetime | None

    def apply(self, row: AccountDecision) -> None:
        for name in OUTCOME_FIELDS:
            setattr(row, name, getattr(self, name))

    def record(self, decision_id: int) -> str:
        """The row's update record (`inventory.bulk.rows_update`) of its id and these values."""
        values = {name: getattr(self, name) for name in OUTCOME_FIELDS}
        return row_record(AccountDecision, {"id": decision_id, **values})


@dataclass(frozen=True)
class Judged:
    verdict: rules.Verdict
    result: Any  # the status client's FetchResult
    outcome: Outcome  # for the row as read (its decision and check_attempts)
    record: str  # `outcome.record`, made ahead of the store
    event: PreparedEvent  # its account_decided event


def judge(
    d: AccountDecision, result: Any, *, flagged: dict[uuid.UUID, bool], now: datetime
) -> Judged:
    """The verdict on one account given the status service's answer, with the row and event it
    leads to."""
    try:
        verdict = rules.decide_account(
            account_facts(
                decision=d,
                observation=result.observation,
                claim_rate_flagged=flagged.get(d.request_id, False),
            )
        )
    except Exception:  # a bug must not strand the account: it counts as unverified
        log.exception("rules failed for decision %s; treated as unverified", d.id)
        verdict = rules.decide_account(account_facts(decision=d, observation=None))
    outcome = outcome_of(d, verdict, result, now=now)
    return Judged(
        verdict,
        result,
        outcome,
        outcome.record(d.id),
        decided_event(d, outcome, now=now),
    )


def outcome_of(
    row: AccountDecision, verdict: rules.Verdict, result: Any, *, now: datetime
) -> Outcome:
    """The row's next values: an unverified account waits for its next re-check (never later
    than the longest delay, whatever `Retry-After` said), and after the last one a person
    decides."""
    delays = settings.STATUS_RECHECK_DELAYS
    attempts = row.check_attempts + 1
    decision, next_check_at = verdict.decision, None
    if decision == Decision.UNVERIFIED:
        if attempts > len(delays):
            decision = Decision.MANUAL_REVIEW  # after the last retry: a person decides
        else:
            wait = delays[attempts - 1]
            if result.retry_after:
                wait = max(wait, int(result.retry_after))
            next_check_at = now + timedelta(seconds=min(wait, max(delays)))
    return Outcome(
        decision=decision,
        rule=verdict.rule,
        interactions=(
            None
            if verdict.interactions is None
            else min(verdict.interactions, MAX_STORED_INTERACTIONS)
        ),
        evidence=evidence_of(verdict, result, check_round=attempts, now=now),
        decided_at=now,
        check_attempts=attempts,
        next_check_at=next_check_at,
        review_requested_at=now if decision == Decision.MANUAL_REVIEW else row.review_requested_at,
    )


def decided_event(row: AccountDecision, outcome: Outcome, *, now: datetime) -> PreparedEvent:
    return account_decided_event(
        order_id=row.request.order_id,
        account_id=row.account_id,
        request_id=row.request_id,
        decision=outcome.decision,
        rule=outcome.rule,
        interactions=outcome.interactions,
        next_check_at=outcome.next_check_at,
        now=now,
    )


def evidence_of(
    verdict: rules.Verdict, result: Any, *, check_round: int, now: datetime
) -> dict[str, Any]:
    """What the case shows: the rules' evidence and the status service's answer, bounded to what
    the database holds."""
    return json_storable(
        {
            **verdict.evidence,
            "status_service": {
                "error": result.error,
                "attempts": result.attempts,
                "response": result.raw,
            },
            "check_round": check_round,
            "checked_at": now.isoformat(),
        },
        max_depth=32,
    )


def claim_rate_flags(decisions: list[AccountDecision]) -> dict[uuid.UUID, bool]:
    """Per request: is its customer's claim rate over the thresholds (claim-rate review, opt-in)?
    Judged on the customer's history before the request, by the order's e-mail."""
    flags: dict[uuid.UUID, bool] = {}
    if not settings.CLAIM_RATE_REVIEW:
        return flags
    for d in decisions:
        if d.request_id not in flags:
            flags[d.request_id] = customer_claim_rate_flagged(
                email=d.request.order.email,
                before=d.request.received_at,
                exclude_request_id=d.request_id,
            )
    return flags
