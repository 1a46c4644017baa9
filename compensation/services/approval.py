"""The approval path, shared by the checks, staff review and overrides.

Approved accounts become one `ReplacementBatch` per line (`batches_create`) and fulfilment is
woken after commit; then the claims' use of the line's compensation (`claims_refresh_usage`) and
the request's status (`request_refresh_status`: decided once nothing is pending or awaiting a
re-check; the customer's e-mail is scheduled by `email_schedule`) are brought up to date.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction

from compensation.events import batch_created_event, request_decided_event, review_approved_events
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
    RequestStatus,
)
from compensation.services.email_schedule import Change, notifications_on_change
from compensation.services.fulfilment import fulfilment_wake
from compensation.webhooks.outbox import webhooks_emit
from inventory.audit import Actor, actor_pk
from inventory.bulk import rows_update

# The columns a decision writes (the checks store these; an approval adds the review columns).
DECIDED_FIELDS = [
    "decision",
    "rule",
    "interactions",
    "evidence",
    "decided_at",
    "check_attempts",
    "next_check_at",
    "review_requested_at",
    "batch",
]


def claims_refresh_usage(*, claim_ids: set[int]) -> None:
    """A line's compensation is used by the first request where an account of it was approved,
    sent to review or is still being verified; a claim whose accounts all ended up rejected does
    not use it (the customer may ask again)."""
    if not claim_ids:
        return
    # Hand-written: it runs in every request's decision, and Django takes longer to compile the
    # ORM form (a correlated EXISTS) than the database takes to run it.
    quote = connection.ops.quote_name
    claims, decisions = quote(LineClaim._meta.db_table), quote(AccountDecision._meta.db_table)
    ids = sorted(claim_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {claims}
                   SET uses_compensation = EXISTS (
                        SELECT 1 FROM {decisions} d
                         WHERE d.claim_id = {claims}.id AND d.decision <> %s)
                 WHERE id IN ({", ".join(["%s"] * len(chunk))}) AND refusal = ''
                """,  # noqa: S608 - names from the models, values are parameters
                [Decision.REJECTED, *chunk],
            )


def batches_create(
    *, approved_by_claim: dict[int, list[AccountDecision]], actor: Actor, now: datetime
) -> list[ReplacementBatch]:
    """One batch per line for the accounts approved together; sets `decision.batch`."""
    batches = []
    for rows in approved_by_claim.values():
        line = rows[0].claim.line
        batch = ReplacementBatch.objects.create(
            line_id=line.id,
            product_id=line.product_id,
            request_id=rows[0].request_id,
            quantity=len(rows),
            approved_at=now,
            approved_by_id=actor_pk(actor),
        )
        for row in rows:
            row.batch = batch
        batch_created_event(
            batch=batch, line=line, decision_ids=[r.id for r in rows], actor=actor, now=now
        )
        batches.append(batch)
    return batches


def fulfilment_wake_for_batches(batches: list[ReplacementBatch]) -> None:
    if batches:
        fulfilment_wake(product_ids=sorted({b.product_id for b in batches}))


def decisions_approve(
    *,
    decision_ids: Sequence[int],
    actor: Actor,
    now: datetime,
    rule: str | None = None,
    customer_message: str = "",
    note: str = "",
) -> list[ReplacementBatch]:
    """Approve accounts (staff review or override): one replacement batch per line for the
    accounts approved together. Already approved accounts are left alone (idempotent)."""
    with transaction.atomic():
        rows = list(
            AccountDecision.objects.select_for_update()
            .filter(id__in=list(decision_ids))
            .exclude(decision=Decision.APPROVED)
            .select_related("claim__line", "request")
            .order_by("id")
        )
        if not rows:
            return []
        by_claim: dict[int, list[AccountDecision]] = defaultdict(list)
        for row in rows:
            row.decision = Decision.APPROVED
            if rule:
                row.rule = rule
            row.decided_at = now
            row.next_check_at = None
            if actor is not None and actor.is_authenticated:
                row.reviewed = True
                row.reviewed_by = actor  # type: ignore[assignment]
                row.reviewed_at = now
                row.claimed_by = None
                row.claimed_until = None
            row.review_note = note
            row.customer_message = customer_message
            by_claim[row.claim_id].append(row)
        batches = batches_create(approved_by_claim=by_claim, actor=actor, now=now)
        rows_update(
            AccountDecision,
            rows,
            [
                *DECIDED_FIELDS,
                "reviewed",
                "reviewed_by",
                "reviewed_at",
                "review_note",
                "customer_message",
                "claimed_by",
                "claimed_until",
            ],
        )
        review_approved_events(rows=rows, actor=actor, note=note, now=now)
        claims_refresh_usage(claim_ids=set(by_claim))
        for request_id in sorted({r.request_id for r in rows}):
            request_refresh_status(request_id=request_id, now=now)
        fulfilment_wake_for_batches(batches)
    return batches


def request_refresh_status(
    *, request_id: uuid.UUID, now: datetime, request: CompensationRequest | None = None
) -> bool:
    """Mark the request decided once none of its accounts is pending or awaiting a re-check.
    Returns True when this call decided it (the change is reported to the e-mail schedule once).
    `request`: the caller's copy of the row, if it has one (saves reading it again).

    One compare-and-set statement; inside the caller's transaction when there is one (no
    savepoint: a failure here fails the caller's work, which is what the callers want)."""
    with transaction.atomic(savepoint=False):
        if not _request_decide_if_settled(request_id=request_id, now=now):
            return False
        if request is None:
            request = CompensationRequest.objects.get(id=request_id)
        request.status, request.decided_at = RequestStatus.DECIDED, now
        _request_decided(request=request, now=now)
        return True


def _request_decide_if_settled(*, request_id: uuid.UUID, now: datetime) -> bool:
    """checking -> decided if no account is pending or awaiting a re-check (one statement,
    hand-written: it runs in every request's decision; the ORM form's compilation costs more)."""
    quote = connection.ops.quote_name
    requests, decisions = (
        quote(CompensationRequest._meta.db_table),
        quote(AccountDecision._meta.db_table),
    )
    request_pk = CompensationRequest._meta.pk
    assert request_pk is not None
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {requests} SET status = %s, decided_at = %s
             WHERE id = %s AND status = %s
               AND NOT EXISTS (SELECT 1 FROM {decisions} d
                                WHERE d.request_id = {requests}.id AND d.decision IN (%s, %s))
            """,  # noqa: S608 - names from the models, values are parameters
            [
                RequestStatus.DECIDED,
                connection.ops.adapt_datetimefield_value(now),
                request_pk.get_db_prep_value(request_id, connection),
                RequestStatus.CHECKING,
                Decision.PENDING,
                Decision.UNVERIFIED,
            ],
        )
        return cursor.rowcount == 1


def request_mark_decided(*, request: CompensationRequest, now: datetime) -> bool:
    updated = CompensationRequest.objects.filter(
        id=request.id, status=RequestStatus.CHECKING
    ).update(status=RequestStatus.DECIDED, decided_at=now)
    if not updated:
        return False
    request.status, request.decided_at = RequestStatus.DECIDED, now
    _request_decided(request=request, now=now)
    return True


def _request_decided(*, request: CompensationRequest, now: datetime) -> None:
    """What follows a request's decision: its event, webhooks and e-mail schedule."""
    counts: dict[str, int] = defaultdict(int)
    for decision in AccountDecision.objects.filter(request=request).values_list(
        "decision", flat=True
    ):
        counts[decision] += 1
    request_decided_event(request=request, counts=counts, now=now)
    webhooks_emit(event_type="request.decided", request_ids=[request.id], now=now)
    notifications_on_change(request_ids=[request.id], change=Change.CHECKED, now=now)
