"""Checking the accounts of a request against the status service.

`request_run_checks` (task `check_request`, queued after submission) claims its request's pending
accounts and those of other requests waiting for their first check (`check_claims`: a lease, so
the tasks of the requests taken along end after one query), reads their public profiles together
with no lock or transaction held, asks the pure rule engine, and writes the decisions with their
evidence in one short transaction per request (a compare-and-set: a twin task decides nothing
twice). Unverified accounts are re-checked by `decisions_recheck_due` with back-off; after the
last try they go to a person, keeping rule `status_unavailable`. Approvals go through `approval`.

Every check ends somewhere:
- one request's write never blocks another's (the re-check job handles many requests); if a
  request's write fails, its accounts are written one by one, and an account whose own write
  still fails goes to a person (or, if even that is refused, waits for its next re-check);
- a next check is never later than the longest re-check delay, whatever `Retry-After` said;
- counters and evidence are bounded to what the database holds before they are written;
- a staff decision racing the check (the account was replaced, or the line's compensation used,
  by an override of an earlier request) turns the account into `already_compensated`, never into
  a task that fails for ever.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Field, Prefetch

from compensation import rules, tasks
from compensation import status as status_service
from compensation.customer_history import customer_claim_rate_flagged
from compensation.events import accounts_decided_events
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
    RequestStatus,
)
from compensation.queueing import enqueue_on_commit
from compensation.services.approval import (
    DECIDED_FIELDS,
    batches_create,
    claims_refresh_usage,
    request_refresh_status,
)
from compensation.services.check_claims import (
    CHECK_BATCH_ACCOUNTS,
    check_work_look,
    decisions_claim_for_check,
)
from compensation.services.facts import account_baseline, account_facts
from compensation.services.fulfilment import fulfilment_wake
from inventory.bulk import rows_update
from inventory.validation import json_storable

log = logging.getLogger(__name__)

# Requests whose check task has not finished this long after it was queued are re-queued (the
# job runs every minute: a lost check is picked up 30–90 s after submission). A twin of a check
# still running is harmless: the compare-and-set lets only one of them write.
STALLED_AFTER = timedelta(seconds=30)
# PositiveIntegerField on PostgreSQL: the stored count of interactions never exceeds it (the
# evidence keeps the counters as observed).
MAX_STORED_INTERACTIONS = 2_147_483_647
# Attempts at writing one request's decisions when a staff decision commits in between.
RACE_ATTEMPTS = 3


# What the checks read besides each account: read once per claim and request and shared by their
# decisions (a 1,000-account request would otherwise build 7,000 model instances, not 1,000).
_SHARED = (
    Prefetch("claim", queryset=LineClaim.objects.select_related("line__product")),
    Prefetch("request", queryset=CompensationRequest.objects.select_related("order")),
)


def request_checks_queue(*, request_id: uuid.UUID) -> None:
    """Queue the checks of a request after commit (task `check_request`, one name per request)."""
    enqueue_on_commit(tasks.check_request, str(request_id), task_name=f"check-{request_id}")


def request_run_checks(
    *, request_id: uuid.UUID, now: datetime, others: int = CHECK_BATCH_ACCOUNTS
) -> int:
    """Check every pending account of the request, and those of other requests waiting for their
    first check (up to `others` accounts; see `check_claims`). Idempotent: a twin run decides
    nothing twice. Returns the number of decisions written."""
    work = check_work_look(request_id=request_id, now=now, others=others > 0)
    pending: list[AccountDecision] = []
    if work.claimable:
        lease, request_ids = decisions_claim_for_check(
            request_id=request_id, now=now, others=others
        )
        if request_ids:
            pending = list(
                AccountDecision.objects.filter(
                    request_id__in=request_ids, decision=Decision.PENDING, next_check_at=lease
                )
                .select_related("account")
                .prefetch_related(*_SHARED)
                .defer("account__credentials_sealed")  # a check never needs the credentials
                .order_by("id")
            )
    if not pending:
        # Nothing free: checked already, or being checked by the task that took it. A request
        # left undecided with nothing to check (a lost status update) is decided now.
        if work.undecided:
            request_refresh_status(request_id=request_id, now=now)
        return 0
    return _decisions_check(decisions=pending, now=now)


def decisions_recheck_due(*, now: datetime) -> int:
    """Re-check unverified accounts whose back-off has elapsed."""
    due = list(
        AccountDecision.objects.filter(decision=Decision.UNVERIFIED, next_check_at__lte=now)
        .select_related("account")
        .prefetch_related(*_SHARED)
        .defer("account__credentials_sealed")
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
    # Judged before any transaction opens (rules, evidence): the transactions only write.
    verdicts = {d.id: _judge(d, results[d.id], flagged=flagged, now=now) for d in decisions}
    return _decisions_store(decisions=decisions, verdicts=verdicts, now=now)


@dataclass(frozen=True)
class _Judged:
    verdict: rules.Verdict
    result: Any  # the status client's FetchResult
    evidence: dict[str, Any]  # as stored with this verdict in the account's next check round


Verdicts = dict[int, _Judged]


def _judge(
    d: AccountDecision, result: Any, *, flagged: dict[uuid.UUID, bool], now: datetime
) -> _Judged:
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
    return _Judged(
        verdict, result, _evidence(verdict, result, check_round=d.check_attempts + 1, now=now)
    )


def _evidence(
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


def _decisions_store(*, decisions: list[AccountDecision], verdicts: Verdicts, now: datetime) -> int:
    """Write each request's decisions in its own transaction; see the module docstring."""
    by_request: dict[uuid.UUID, list[AccountDecision]] = defaultdict(list)
    for decision in decisions:
        by_request[decision.request_id].append(decision)
    stored = 0
    products: set[int] = set()  # of the replacement batches created
    # Read once for the whole batch; a staff decision committing after this read breaks a
    # unique constraint in the store, whose next attempt reads again (`_store_despite_races`).
    taken = _compensated_elsewhere(decisions, verdicts)
    for group in by_request.values():
        try:
            count, batches = _store_despite_races(group, verdicts, now, taken)
        except Exception:
            log.exception(
                "storing the checks of request %s failed; one by one", group[0].request_id
            )
            count, batches = 0, []
            for decision in group:
                alone, made = _store_alone(decision, verdicts, now)
                count, batches = count + alone, batches + made
        stored += count
        products.update(b.product_id for b in batches)
    # One wake-up for the whole batch, after every request of it is stored (if this task dies
    # first, the fulfilment sweep serves the batches: they are committed).
    fulfilment_wake(product_ids=products)
    return stored


Stored = tuple[int, list[ReplacementBatch]]  # decisions written, batches created
# The attributes a store sets on the rows (for the batch, its id: that also drops the cached one).
_DECIDED_ATTNAMES = [
    field.attname
    for field in (AccountDecision._meta.get_field(name) for name in DECIDED_FIELDS)
    if isinstance(field, Field)
]


def _store_despite_races(
    group: list[AccountDecision],
    verdicts: Verdicts,
    now: datetime,
    taken: dict[int, datetime] | None = None,
) -> Stored:
    as_read = [{name: getattr(d, name) for name in _DECIDED_ATTNAMES} for d in group]
    for attempt in range(1, RACE_ATTEMPTS + 1):
        try:
            return _store_group(group, verdicts, now, taken if attempt == 1 else None)
        except IntegrityError:
            # A staff decision committed between our read and our write; the next attempt sees
            # it (and turns the account into already_compensated), starting from the rows as
            # read: the failed attempt's changes were rolled back in the database only.
            if attempt == RACE_ATTEMPTS:
                raise
            for d, values in zip(group, as_read, strict=True):
                for name, value in values.items():
                    setattr(d, name, value)
    raise AssertionError("unreachable")  # pragma: no cover


def _store_alone(decision: AccountDecision, verdicts: Verdicts, now: datetime) -> Stored:
    """One account on its own; if even that fails, a person decides (or, if that write is
    refused too, the account waits for its next re-check, no later than the longest delay)."""
    try:
        return _store_despite_races([decision], verdicts, now)
    except Exception as exc:
        log.exception("storing the check of decision %s failed", decision.id)
        error = type(exc).__name__
    delays = settings.STATUS_RECHECK_DELAYS
    same = AccountDecision.objects.filter(
        pk=decision.pk, decision=decision.decision, check_attempts=decision.check_attempts
    )
    evidence = {"store_error": error, "checked_at": now.isoformat()}
    for fallback in (
        {"decision": Decision.MANUAL_REVIEW, "review_requested_at": now, "next_check_at": None},
        {"decision": Decision.UNVERIFIED, "next_check_at": now + timedelta(seconds=max(delays))},
    ):
        try:
            with transaction.atomic():
                updated = same.update(
                    rule="status_unavailable",
                    evidence=evidence,
                    decided_at=now,
                    check_attempts=F("check_attempts") + 1,
                    **fallback,
                )
                if updated:
                    claims_refresh_usage(claim_ids={decision.claim_id})
                    request_refresh_status(request_id=decision.request_id, now=now)
            return updated, []
        except Exception:
            log.exception("fallback %s refused for decision %s", fallback["decision"], decision.id)
    return 0, []


def _store_group(
    group: list[AccountDecision],
    verdicts: Verdicts,
    now: datetime,
    taken: dict[int, datetime] | None = None,
) -> Stored:
    """Write one request's decisions in one transaction (compare-and-set on each row). `taken`:
    `_compensated_elsewhere` as read before the transaction (None: read it now)."""
    delays = settings.STATUS_RECHECK_DELAYS
    longest = max(delays)
    snapshot = {d.id: (d.decision, d.check_attempts) for d in group}
    with transaction.atomic():
        current = {
            pk: (decision, attempts)
            for pk, decision, attempts in AccountDecision.objects.select_for_update()
            .filter(id__in=list(snapshot))
            .order_by("id")
            .values_list("id", "decision", "check_attempts")
        }
        # Compare-and-set: a twin task (at-least-once delivery) may have decided some already.
        rows = [d for d in group if current.get(d.id) == snapshot[d.id]]
        if taken is None:
            taken = _compensated_elsewhere(rows, verdicts)
        approved_by_claim: dict[int, list[AccountDecision]] = defaultdict(list)
        for row in rows:
            judged = verdicts[row.id]
            verdict, result, row.evidence = judged.verdict, judged.result, judged.evidence
            row.check_attempts += 1  # the round the evidence was made for (compare-and-set)
            if row.id in taken:
                verdict = _already_compensated(row, earlier=taken[row.id])
                row.evidence = _evidence(verdict, result, check_round=row.check_attempts, now=now)
            row.rule = verdict.rule
            row.interactions = (
                None
                if verdict.interactions is None
                else min(verdict.interactions, MAX_STORED_INTERACTIONS)
            )
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
                    # However far Retry-After pointed, never later than the longest delay.
                    row.next_check_at = now + timedelta(seconds=min(wait, longest))
            if decision == Decision.MANUAL_REVIEW:
                row.review_requested_at = now
            row.decision = decision
            if decision == Decision.APPROVED:
                approved_by_claim[row.claim_id].append(row)
        batches = batches_create(approved_by_claim=approved_by_claim, actor=None, now=now)
        rows_update(AccountDecision, rows, DECIDED_FIELDS)
        accounts_decided_events(rows=rows, now=now)
        claims_refresh_usage(claim_ids={r.claim_id for r in rows})
        requests = {r.request_id: r.request for r in rows}
        for request_id in sorted(requests):
            request_refresh_status(request_id=request_id, now=now, request=requests[request_id])
    return len(rows), batches


def _compensated_elsewhere(rows: list[AccountDecision], verdicts: Verdicts) -> dict[int, datetime]:
    """{decision id: when the other request was received} for the accounts that were replaced,
    or whose line's compensation was used, by another request meanwhile (a staff override of an
    earlier, rejected request). Only accounts this check would not reject anyway."""
    live = [r for r in rows if verdicts[r.id].verdict.decision != Decision.REJECTED]
    if not live:
        return {}
    request_ids = {r.request_id for r in live}
    replaced = dict(
        AccountDecision.objects.filter(
            account_id__in={r.account_id for r in live}, decision=Decision.APPROVED
        )
        .exclude(request_id__in=request_ids)
        .values_list("account_id", "request__received_at")
    )
    used = dict(
        LineClaim.objects.filter(
            line_id__in={r.claim.line_id for r in live}, uses_compensation=True
        )
        .exclude(request_id__in=request_ids)
        .values_list("line_id", "request__received_at")
    )
    taken: dict[int, datetime] = {}
    for row in live:
        earlier = replaced.get(row.account_id) or used.get(row.claim.line_id)
        if earlier is not None:
            taken[row.id] = earlier
    return taken


def _already_compensated(row: AccountDecision, *, earlier: datetime) -> rules.Verdict:
    request = row.request
    return rules.line_verdict(
        rule="already_compensated",
        baseline=account_baseline(row.account),
        order_placed_at=request.order.placed_at,
        now=request.received_at,
        claim_window_days=row.claim.line.product.claim_window_days,
        earlier_use_received_at=earlier,
    )
