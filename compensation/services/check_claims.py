"""Which pending accounts a check task takes: its own request's, and other requests still waiting
for their first check, claimed with a lease.

A burst of submissions queues one `check_request` task per request, and a task's fixed cost (the
queue, a transaction, a dozen queries) is larger than its status call. So a check task takes its
own request plus, up to `CHECK_BATCH_ACCOUNTS` accounts, the requests submitted before it that no
task has taken yet (first come, first checked); their status calls run concurrently
(`StatusClient.fetching`) and each request is still written in its own short transaction. The
tasks of the requests it took along find nothing free and exit after one short transaction.

The lease is the request's `check_lease_until` ("its accounts are not checked by another task
before"): a claim sets it to `now + CHECK_LEASE` on each request it takes, in a short transaction
of its own, with no network call under it (one row per request: a claim of 1,000 accounts writes
one row, not 1,000). A request still checking whose lease is null waits for its first check.
Claims are serialised (PostgreSQL: a transaction advisory lock; SQLite: the write lock taken at
BEGIN), so a request is never split between two tasks that would both store part of it. Nothing
is lost: a task that dies after its claim leaves the accounts pending; `requests_resume_stalled`
queues the request again every minute and its task takes the accounts back once the lease has
passed (30-90 s after submission, as before). A twin that checks anyway (a lease that ran out
under a very slow task) decides nothing twice: the store is a compare-and-set.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q

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
    Django takes longer to compile the ORM form (correlated EXISTS) than to run it."""
    quote = connection.ops.quote_name
    requests, decisions = (
        quote(CompensationRequest._meta.db_table),
        quote(AccountDecision._meta.db_table),
    )
    request_pk = CompensationRequest._meta.pk
    assert request_pk is not None
    sql = f"""
        SELECT r.status,
               (r.check_lease_until IS NULL OR r.check_lease_until <= %s)
               AND EXISTS (SELECT 1 FROM {decisions} d
                            WHERE d.request_id = r.id AND d.decision = %s),
               (%s AND EXISTS (SELECT 1 FROM {requests} o
                                WHERE o.status = %s AND o.check_lease_until IS NULL
                                  AND o.id <> r.id
                                  AND EXISTS (SELECT 1 FROM {decisions} d
                                               WHERE d.request_id = o.id AND d.decision = %s))),
               EXISTS (SELECT 1 FROM {decisions} d
                        WHERE d.request_id = r.id AND d.decision IN (%s, %s))
          FROM {requests} r
         WHERE r.id = %s
    """  # noqa: S608 - names from the models, values are parameters
    params = [
        connection.ops.adapt_datetimefield_value(now),
        Decision.PENDING,
        others,
        RequestStatus.CHECKING,
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

    Read from the oldest `accounts` unclaimed requests with a pending account
    (`request_unclaimed_idx`; no more can fit), not from every waiting account: after an outage
    tens of thousands wait, and every claim runs this under the claims lock. Their pending
    accounts are then counted."""
    if accounts <= 0:
        return []
    pending = AccountDecision.objects.filter(request=OuterRef("pk"), decision=Decision.PENDING)
    candidates = list(
        CompensationRequest.objects.filter(
            Exists(pending), status=RequestStatus.CHECKING, check_lease_until__isnull=True
        )
        .exclude(id=exclude)
        .order_by("received_at", "id")
        .values_list("id", flat=True)[:accounts]
    )
    if not candidates:
        return []
    counts = dict(
        AccountDecision.objects.filter(request_id__in=candidates, decision=Decision.PENDING)
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
) -> list[uuid.UUID]:
    """Claim the request, if no other task holds it, and up to `others` accounts' worth of other
    waiting requests, until `now + CHECK_LEASE`. Returns the requests claimed (the request's own
    first): this task checks their pending accounts."""
    lease = now + CHECK_LEASE
    free = Q(check_lease_until__isnull=True) | Q(check_lease_until__lte=now)
    with transaction.atomic():
        _claims_lock()
        candidates = [request_id, *_waiting_requests(exclude=request_id, accounts=others)]
        claimable = set(
            CompensationRequest.objects.filter(free, id__in=candidates).values_list("id", flat=True)
        )
        claimed = [r for r in candidates if r in claimable]
        if claimed:
            CompensationRequest.objects.filter(id__in=claimed).update(check_lease_until=lease)
    return claimed
