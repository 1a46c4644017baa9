"""Checking the accounts of a request against the status service.

`request_run_checks` (task `check_request`, queued after submission) reads the public profiles
with no lock or transaction held, asks the pure rule engine, and writes every decision with its
evidence in one short transaction (a compare-and-set: a twin task decides nothing twice).
Unverified accounts are re-checked by `decisions_recheck_due` with back-off; after the last try
they go to a person, keeping rule `status_unavailable`. Approvals go through `approval`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from compensation import rules, tasks
from compensation import status as status_service
from compensation.bulk import rows_update
from compensation.customer_history import customer_claim_rate_flagged
from compensation.events import accounts_decided_events
from compensation.models import AccountDecision, CompensationRequest, Decision, RequestStatus
from compensation.queueing import enqueue_on_commit
from compensation.services.approval import (
    DECIDED_FIELDS,
    batches_create,
    claims_refresh_usage,
    fulfilment_wake_for_batches,
    request_refresh_status,
)
from compensation.services.facts import account_facts

# Requests whose check task has not finished this long after it was queued are re-queued.
STALLED_AFTER = timedelta(minutes=5)


def request_checks_queue(*, request_id: uuid.UUID) -> None:
    """Queue the checks of a request after commit (task `check_request`, one name per request)."""
    enqueue_on_commit(tasks.check_request, str(request_id), task_name=f"check-{request_id}")


def request_run_checks(*, request_id: uuid.UUID, now: datetime) -> int:
    """Check every pending account of the request. Idempotent: a twin run decides nothing twice.
    Returns the number of decisions written."""
    pending = list(
        AccountDecision.objects.filter(request_id=request_id, decision=Decision.PENDING)
        .select_related("account", "claim__line__product", "request__order")
        .order_by("id")
    )
    if not pending:
        request_refresh_status(request_id=request_id, now=now)
        return 0
    return _decisions_check(decisions=pending, now=now)


def decisions_recheck_due(*, now: datetime) -> int:
    """Re-check unverified accounts whose back-off has elapsed."""
    due = list(
        AccountDecision.objects.filter(decision=Decision.UNVERIFIED, next_check_at__lte=now)
        .select_related("account", "claim__line__product", "request__order")
        .order_by("id")[:1000]
    )
    return _decisions_check(decisions=due, now=now) if due else 0


def requests_resume_stalled(*, now: datetime) -> int:
    """Re-queue checks of requests whose task was lost (a worker killed mid-run)."""
    stalled = list(
        CompensationRequest.objects.filter(
            status=RequestStatus.CHECKING,
            received_at__lte=now - STALLED_AFTER,
            decisions__decision=Decision.PENDING,
        )
        .distinct()
        .values_list("id", flat=True)
    )
    for request_id in stalled:
        request_checks_queue(request_id=request_id)
    return len(stalled)


def _decisions_check(*, decisions: list[AccountDecision], now: datetime) -> int:
    # Network first, with no transaction or lock held.
    results = status_service.get_status_client().fetch_many(
        [
            status_service.ProfileQuery(
                key=d.id,
                platform=d.account.platform,
                username=d.account.username,
                user_id=d.account.platform_user_id,
            )
            for d in decisions
        ]
    )
    flagged = _claim_rate_flags(decisions) if settings.CLAIM_RATE_REVIEW else {}
    verdicts: dict[int, tuple[rules.Verdict, Any]] = {}
    for d in decisions:
        result = results[d.id]
        facts = account_facts(
            decision=d,
            observation=result.observation,
            claim_rate_flagged=flagged.get(d.request_id, False),
        )
        verdicts[d.id] = (rules.decide_account(facts), result)
    return _decisions_store(decisions=decisions, verdicts=verdicts, now=now)


def _claim_rate_flags(decisions: list[AccountDecision]) -> dict[uuid.UUID, bool]:
    """Per request: is its customer's claim rate over the thresholds (claim-rate review, opt-in)?
    Judged on the customer's history before the request, by the order's e-mail."""
    flags: dict[uuid.UUID, bool] = {}
    for d in decisions:
        if d.request_id not in flags:
            flags[d.request_id] = customer_claim_rate_flagged(
                email=d.request.order.email,
                before=d.request.received_at,
                exclude_request_id=d.request_id,
            )
    return flags


def _decisions_store(
    *,
    decisions: list[AccountDecision],
    verdicts: dict[int, tuple[rules.Verdict, Any]],
    now: datetime,
) -> int:
    delays = settings.STATUS_RECHECK_DELAYS
    snapshot = {d.id: (d.decision, d.check_attempts) for d in decisions}
    with transaction.atomic():
        current = {
            pk: (decision, attempts)
            for pk, decision, attempts in AccountDecision.objects.select_for_update()
            .filter(id__in=list(snapshot))
            .order_by("id")
            .values_list("id", "decision", "check_attempts")
        }
        # Compare-and-set: a twin task (at-least-once delivery) may have decided some already.
        rows = [d for d in decisions if current.get(d.id) == snapshot[d.id]]
        approved_by_claim: dict[int, list[AccountDecision]] = defaultdict(list)
        for row in rows:
            verdict, result = verdicts[row.id]
            row.check_attempts += 1
            row.rule = verdict.rule
            row.interactions = verdict.interactions
            row.evidence = {
                **verdict.evidence,
                "status_service": {
                    "error": result.error,
                    "attempts": result.attempts,
                    "response": result.raw,
                },
                "check_round": row.check_attempts,
                "checked_at": now.isoformat(),
            }
            row.decided_at = now
            row.next_check_at = None
            decision = verdict.decision
            if decision == Decision.UNVERIFIED:
                if row.check_attempts > len(delays):
                    decision = Decision.MANUAL_REVIEW  # after the last retry: a person decides
                else:
                    wait = delays[row.check_attempts - 1]
                    if result.retry_after:
                        wait = max(wait, int(result.retry_after))
                    row.next_check_at = now + timedelta(seconds=wait)
            if decision == Decision.MANUAL_REVIEW:
                row.review_requested_at = now
            row.decision = decision
            if decision == Decision.APPROVED:
                approved_by_claim[row.claim_id].append(row)
        batches = batches_create(approved_by_claim=approved_by_claim, actor=None, now=now)
        rows_update(AccountDecision, rows, DECIDED_FIELDS)
        accounts_decided_events(rows=rows, now=now)
        claims_refresh_usage(claim_ids={r.claim_id for r in rows})
        request_ids = sorted({r.request_id for r in rows})
        for request_id in request_ids:
            request_refresh_status(request_id=request_id, now=now)
        fulfilment_wake_for_batches(batches)
    return len(rows)
