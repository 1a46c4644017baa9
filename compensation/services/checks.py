"""Checking the accounts of a request against the status service.

`request_run_checks` (task `check_request`, queued after submission) claims its request's pending
accounts and those of other requests waiting for their first check (`check_claims`: a lease, so
the tasks of the requests taken along end after one query) and starts their status calls at once,
with no lock or transaction held. While the calls run it reads what the rules need and judges each
answer as it arrives (`check_judging`: the verdict, the row's next values and its event); then it
writes the decisions in one short transaction per request (`check_store`: a compare-and-set, so
a twin task decides nothing twice). Unverified accounts are re-checked by `decisions_recheck_due`
with back-off; after the last try they go to a person, keeping rule `status_unavailable`.
Approvals go through `approval`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db.models import Prefetch, QuerySet

from compensation import status as status_service
from compensation import tasks
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    RequestStatus,
)
from compensation.queueing import enqueue_on_commit
from compensation.services.approval import DECIDED_FIELDS, request_refresh_status
from compensation.services.check_claims import (
    CHECK_BATCH_ACCOUNTS,
    check_work_look,
    decisions_claim_for_check,
)
from compensation.services.check_judging import claim_rate_flags, judge
from compensation.services.check_store import compensated_elsewhere, decisions_store
from inventory.models import INTERACTION_KINDS

# Requests whose check task has not finished this long after it was queued are re-queued (the
# job runs every minute: a lost check is picked up 30–90 s after submission). A twin of a check
# still running is harmless: the compare-and-set lets only one of them write.
STALLED_AFTER = timedelta(seconds=30)
# Unverified accounts one re-check run takes (the job runs every minute).
RECHECK_BATCH = 1000

# What the checks read besides each account: read once per claim and request and shared by their
# decisions (a 1,000-account request would otherwise build 7,000 model instances, not 1,000).
_SHARED = (
    Prefetch("claim", queryset=LineClaim.objects.select_related("line__product")),
    Prefetch("request", queryset=CompensationRequest.objects.select_related("order")),
)


# What a check reads of a decision and its account (not the credentials, the review columns or
# the account's delivery record: a 1,000-account request builds 2,000 instances).
_CHECKED_FIELDS = (
    "request",
    "claim",
    "account",
    *DECIDED_FIELDS,
    "account__platform",
    "account__username",
    "account__platform_user_id",
    "account__baseline_followers",
    *(f"account__baseline_{kind}" for kind in INTERACTION_KINDS),
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
    queries: list[status_service.ProfileQuery] = []
    if work.claimable:
        request_ids = decisions_claim_for_check(request_id=request_id, now=now, others=others)
        if request_ids:
            due = AccountDecision.objects.filter(
                request_id__in=request_ids, decision=Decision.PENDING
            )
            queries = _profile_queries(due)
    if not queries:
        # Nothing free: checked already, or being checked by the task that took it. A request
        # left undecided with nothing to check (a lost status update) is decided now.
        if work.undecided:
            request_refresh_status(request_id=request_id, now=now)
        return 0
    return _decisions_check(due=due, queries=queries, now=now)


def decisions_recheck_due(*, now: datetime) -> int:
    """Re-check unverified accounts whose back-off has elapsed."""
    due = AccountDecision.objects.filter(decision=Decision.UNVERIFIED, next_check_at__lte=now)
    queries = _profile_queries(due, limit=RECHECK_BATCH)
    return _decisions_check(due=due, queries=queries, now=now) if queries else 0


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


def _profile_queries(
    due: QuerySet[AccountDecision], *, limit: int | None = None
) -> list[status_service.ProfileQuery]:
    """What the status service is asked for the due decisions: one light query, so that the
    calls start before the rows are read whole."""
    rows = due.order_by("id").values_list(
        "id", "account__platform", "account__username", "account__platform_user_id"
    )
    return [
        status_service.ProfileQuery(key=key, platform=platform, username=username, user_id=uid)
        for key, platform, username, uid in (rows if limit is None else rows[:limit])
    ]


def _decisions_check(
    *,
    due: QuerySet[AccountDecision],
    queries: list[status_service.ProfileQuery],
    now: datetime,
) -> int:
    # The calls start now, with no transaction or lock held.
    with status_service.get_status_client().fetching(queries) as arriving:
        # While they run: the rows with what the rules need (a row no longer due, decided by a
        # twin meanwhile, is left out), the claim-rate flags and the accounts compensated
        # elsewhere (reads, no lock); then each answer is judged as it arrives.
        decisions = list(
            # The due rows up to the last one asked about (one bound, not a list of ids): a row
            # that became due meanwhile has no answer and is left for the next round.
            due.filter(id__lte=queries[-1].key)
            .select_related("account")
            .prefetch_related(*_SHARED)
            .only(*_CHECKED_FIELDS)
            .order_by("id")
        )
        by_id = {d.id: d for d in decisions}
        flagged = claim_rate_flags(decisions)
        taken = compensated_elsewhere(decisions)
        verdicts = {
            key: judge(by_id[key], result, flagged=flagged, now=now)
            for key, result in arriving
            if key in by_id
        }
    return decisions_store(
        decisions=[d for d in decisions if d.id in verdicts],
        verdicts=verdicts,
        taken=taken,
        now=now,
    )
