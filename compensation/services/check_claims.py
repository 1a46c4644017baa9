"""Which pending accounts a check task takes: its own request's, and other requests still waiting
for their first check, claimed with a lease.

A burst of submissions queues one `check_request` task per request, and a task's fixed cost (the
queue, a transaction, a dozen queries) is larger than its status call. So a check task takes its
own request plus, up to `CHECK_BATCH_ACCOUNTS` accounts, the requests submitted before it that no
task has taken yet (first come, first checked); their status calls run concurrently
(`StatusClient.fetching`) and each request is still written in its own short transaction. The
tasks of the requests it took along find nothing free and exit after one short transaction.

The lease is the pending account's `next_check_at` ("not checked again before"): a claim sets it
to `now + CHECK_LEASE`, in a short transaction of its own, with no network call under it; the
store clears it (or sets the re-check time). Claims are serialised (PostgreSQL: a transaction
advisory lock; SQLite: the write lock taken at BEGIN), so a request is never split between two
tasks that would both store part of it. Nothing is lost: a task that dies after its claim leaves
the accounts pending; `requests_resume_stalled` queues the request again every minute and its task
takes the accounts back once the lease has passed (30-90 s after submission, as before). A twin
that checks anyway (a lease that ran out under a very slow task) decides nothing twice: the store
is a compare-and-set.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Q

from compensation.models import AccountDecision, CompensationRequest, Decision, RequestStatus

# Accounts of other requests a check task takes along (its own request is always taken whole).
CHECK_BATCH_ACCOUNTS = 50
# How long a claim keeps other tasks off the accounts: longer than a batch takes (its status
# calls run together: two rounds of at most STATUS_API_DEADLINE for 50 accounts), and shorter
# than `checks.STALLED_AFTER`, so a check lost with its worker is still taken back 30-90 s after
# submission. A request's own very slow check can outlive it; a twin then decides nothing twice.
CHECK_LEASE = timedelta(seconds=20)

_LOCK_KEY = zlib.crc32(b"compensation.check_claims") & 0x7FFFFFFF


@dataclass(frozen=True)
class CheckWork:
    claimable: bool  # the request's own accounts are free, or other requests wait unclaimed
    undecided: bool  # the request is checking with nothing pending or re-checked: mark decided


def check_work_look(*, request_id: uuid.UUID, now: datetime, others: bool) -> CheckWork:
    """One indexed query before any claim: is there anything for this task to take? (The tasks of
    the requests another task took along end here.) Hand-written: every check task runs it, and
    Django takes longer to compile the ORM form (three correlated EXISTS) than to run it."""
    quote = connection.ops.quote_name
    requests, decisions = (
        quote(CompensationRequest._meta.db_table),
        quote(AccountDecision._meta.db_table),
    )
    request_pk = CompensationRequest._meta.pk
    assert request_pk is not None
    sql = f"""
        SELECT r.status,
               EXISTS (SELECT 1 FROM {decisions} d
                        WHERE d.request_id = r.id AND d.decision = %s
                          AND (d.next_check_at IS NULL OR d.next_check_at <= %s)),
               (%s AND EXISTS (SELECT 1 FROM {decisions} d
                                WHERE d.decision = %s AND d.next_check_at IS NULL
                                  AND d.request_id <> r.id)),
               EXISTS (SELECT 1 FROM {decisions} d
                        WHERE d.request_id = r.id AND d.decision IN (%s, %s))
          FROM {requests} r
         WHERE r.id = %s
    """  # noqa: S608 - names from the models, values are parameters
    params = [
        Decision.PENDING,
        connection.ops.adapt_datetimefield_value(now),
        others,
        Decision.PENDING,
        Decision.PENDING,
        Decision.UNVERIFIED,
        request_pk.get_db_prep_value(request_id, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return CheckWork(claimable=False, undecided=False)
    status, own_free, waiting_others, still_checking = row
    return CheckWork(
        claimable=bool(own_free or waiting_others),
        undecided=status == RequestStatus.CHECKING and not still_checking,
    )


def _claims_lock() -> None:
    """Serialise claims until the end of the transaction (SQLite: BEGIN IMMEDIATE already has)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _waiting_requests(*, exclude: uuid.UUID, accounts: int) -> list[uuid.UUID]:
    """The oldest requests that no task has taken yet, whole, up to `accounts` accounts in all
    (stopping at the first that does not fit, so none is overtaken by a smaller later one).

    Read from the oldest `accounts + 1` unclaimed rows (`decision_unclaimed_idx`), not by
    grouping every unclaimed row: after an outage tens of thousands wait, and every claim runs
    this under the claims lock (22.7 ms at 50,000 that way). Whatever is chosen lies among the
    requests whose first row is in that window: together they hold more rows than fit, or every
    row there is. Their counts are then read whole, since a request's rows need not be next to
    each other."""
    if accounts <= 0:
        return []
    window = (
        AccountDecision.objects.filter(decision=Decision.PENDING, next_check_at__isnull=True)
        .exclude(request_id=exclude)
        .order_by("id")
        .values_list("request_id", flat=True)[: accounts + 1]
    )
    candidates = list(dict.fromkeys(window))  # by their first row, oldest first
    if not candidates:
        return []
    counts = dict(
        AccountDecision.objects.filter(
            request_id__in=candidates, decision=Decision.PENDING, next_check_at__isnull=True
        )
        .values("request_id")
        .annotate(n=Count("id"))
        .values_list("request_id", "n")
    )
    chosen: list[uuid.UUID] = []
    total = 0
    for request_id in candidates:
        total += counts.get(request_id, 0)
        if total > accounts:
            break
        chosen.append(request_id)
    return chosen


def decisions_claim_for_check(
    *, request_id: uuid.UUID, now: datetime, others: int = CHECK_BATCH_ACCOUNTS
) -> tuple[datetime, list[uuid.UUID]]:
    """Claim the free pending accounts of the request and of up to `others` accounts' worth of
    other waiting requests. Returns the lease (the claimed rows' `next_check_at`) and the requests
    looked at; the claimed rows are the pending ones of these requests with that lease."""
    lease = now + CHECK_LEASE
    free = Q(next_check_at__isnull=True) | Q(next_check_at__lte=now)
    with transaction.atomic():
        _claims_lock()
        request_ids = [request_id, *_waiting_requests(exclude=request_id, accounts=others)]
        claimed = (
            AccountDecision.objects.filter(free, decision=Decision.PENDING)
            .filter(request_id__in=request_ids)
            .update(next_check_at=lease)
        )
    return lease, request_ids if claimed else []
