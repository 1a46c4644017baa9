"""Compensation requests: submit, check every account's public profile, apply the decisions.

Flow: `request_submit` (web form / API) records the request, decides the line-level refusals and
queues `tasks.check_request` after commit. `request_run_checks` reads the profiles (no lock, no
transaction held), asks the pure rule engine, and writes every decision with its evidence in one
short transaction. Unverified accounts are re-checked by `decisions_recheck_due` with back-off;
after the last try they go to a person, keeping rule `status_unavailable`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q

from compensation import rules
from compensation.bulk import rows_update
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
    RequestStatus,
)
from compensation.webhooks.outbox import webhooks_emit
from inventory.models import INTERACTION_KINDS, Account
from orders.events import Actor, actor_pk, event_record, events_record_many
from orders.models import Event, Order, OrderLine

# Requests whose check task has not finished this long after it was queued are re-queued.
STALLED_AFTER = timedelta(minutes=5)
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


class OrderNotFound(Exception):
    """Unknown order id or e-mail not matching it: one error, so nobody can probe which exists."""


class UnknownLines(Exception):
    def __init__(self, skus: Sequence[str]) -> None:
        super().__init__(", ".join(skus))
        self.skus = list(skus)


@dataclass(frozen=True)
class SubmitResult:
    request: CompensationRequest
    created: bool


def _clean_skus(skus: Iterable[str] | None) -> list[str]:
    seen: dict[str, None] = {}
    for sku in skus or ():
        sku = sku.strip()
        if sku:
            seen.setdefault(sku, None)
    return list(seen)


def request_submit(
    *,
    email: str,
    order_id: str,
    reason: str,
    password_change_warning: bool,
    skus: Sequence[str] | None,
    now: datetime,
) -> SubmitResult:
    """Accept a customer's request, or return the one already in progress for the order."""
    order = Order.objects.filter(order_id=order_id.strip()).first()
    # Same exception, same work, for an unknown order and a wrong e-mail.
    if order is None or order.email.strip().casefold() != email.strip().casefold():
        raise OrderNotFound
    wanted = _clean_skus(skus)
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("id"))
    if wanted:
        by_sku = {line.product.sku.casefold(): line for line in lines}
        unknown = [sku for sku in wanted if sku.casefold() not in by_sku]
        if unknown:
            raise UnknownLines(unknown)
        lines = sorted({by_sku[sku.casefold()] for sku in wanted}, key=lambda ln: ln.id)

    for _ in range(3):
        existing = CompensationRequest.objects.filter(
            order=order, status=RequestStatus.CHECKING
        ).first()
        if existing is not None:
            return SubmitResult(request=existing, created=False)
        try:
            request = _request_create(
                order=order,
                lines=lines,
                email=email.strip(),
                reason=reason.strip(),
                password_change_warning=password_change_warning,
                skus=wanted,
                now=now,
            )
        except IntegrityError:
            # Another submission for this order won the race (one in progress per order).
            continue
        return SubmitResult(request=request, created=True)
    raise RuntimeError("could not create or find the request in progress")  # pragma: no cover


def _request_create(
    *,
    order: Order,
    lines: list[OrderLine],
    email: str,
    reason: str,
    password_change_warning: bool,
    skus: list[str],
    now: datetime,
) -> CompensationRequest:
    with transaction.atomic():
        request = CompensationRequest.objects.create(
            order=order,
            email=email,
            reason=reason,
            password_change_warning=password_change_warning,
            requested_skus=skus,
            received_at=now,
        )
        earlier_use = {
            claim.line_id: claim.request.received_at
            for claim in LineClaim.objects.filter(
                line__in=lines, uses_compensation=True
            ).select_related("request")
        }
        claims = [
            LineClaim(
                request=request,
                line=line,
                refusal=rules.line_refusal(
                    order_placed_at=order.placed_at,
                    now=now,
                    claim_window_days=line.product.claim_window_days,
                    earlier_use_received_at=earlier_use.get(line.id),
                )
                or "",
            )
            for line in lines
        ]
        for claim in claims:
            if claim.refusal == LineClaim.Refusal.ALREADY_COMPENSATED:
                claim.refusal_detail = {
                    "earlier_request_received_at": earlier_use[claim.line_id].isoformat()
                }
        LineClaim.objects.bulk_create(claims)
        claim_by_line = {claim.line_id: claim for claim in claims}

        accounts = Account.objects.filter(
            line__in=lines, delivery_kind=Account.DeliveryKind.SALE
        ).order_by("line_id", "id")
        decisions = []
        for account in accounts:
            claim = claim_by_line[account.line_id]  # type: ignore[index]
            if claim.refusal:
                verdict = rules.line_verdict(
                    rule=claim.refusal,
                    baseline=account_baseline(account),
                    order_placed_at=order.placed_at,
                    now=now,
                    claim_window_days=claim.line.product.claim_window_days,
                    earlier_use_received_at=earlier_use.get(claim.line_id),
                )
                decisions.append(
                    AccountDecision(
                        request=request,
                        claim=claim,
                        account_id=account.id,
                        decision=verdict.decision,
                        rule=verdict.rule,
                        evidence=verdict.evidence,
                        decided_at=now,
                    )
                )
            else:
                decisions.append(
                    AccountDecision(request=request, claim=claim, account_id=account.id)
                )
        AccountDecision.objects.bulk_create(decisions, batch_size=1000)

        event_record(
            kind=Event.Kind.REQUEST_RECEIVED,
            order_id=order.id,
            request_id=request.id,
            message=f"{len(decisions)} account(s) on {len(lines)} line(s)",
            data={
                "skus": [line.product.sku for line in lines],
                "password_change_warning": password_change_warning,
            },
            at=now,
        )
        webhooks_emit(event_type="request.received", request_ids=[request.id], now=now)
        for claim in claims:
            if claim.refusal:
                event_record(
                    kind=Event.Kind.LINE_REFUSED,
                    order_id=order.id,
                    request_id=request.id,
                    message=claim.refusal,
                    data={"line_id": claim.line_id, **claim.refusal_detail},
                    at=now,
                )
        if any(d.decision == Decision.PENDING for d in decisions):
            transaction.on_commit(lambda: _queue_check(request.id))
        else:
            _request_mark_decided(request=request, now=now)
    return request


def _queue_check(request_id: uuid.UUID) -> None:
    from django_q.tasks import async_task

    async_task("compensation.tasks.check_request", str(request_id), task_name=f"check-{request_id}")


# --- checking ----------------------------------------------------------------------------------


def account_baseline(account: Account) -> rules.Baseline:
    return rules.Baseline(
        username=account.username,
        user_id=account.platform_user_id,
        followers=account.baseline_followers,
        interactions={kind: getattr(account, f"baseline_{kind}") for kind in INTERACTION_KINDS},
    )


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
        _queue_check(request_id)
    return len(stalled)


def _decisions_check(*, decisions: list[AccountDecision], now: datetime) -> int:
    from compensation.status_client import ProfileQuery, get_status_client

    # Network first, with no transaction or lock held.
    results = get_status_client().fetch_many(
        [
            ProfileQuery(
                key=d.id,
                platform=d.account.platform,
                username=d.account.username,
                user_id=d.account.platform_user_id,
            )
            for d in decisions
        ]
    )
    verdicts: dict[int, tuple[rules.Verdict, Any]] = {}
    for d in decisions:
        result = results[d.id]
        facts = rules.AccountFacts(
            baseline=account_baseline(d.account),
            observation=result.observation,
            password_change_warning=d.request.password_change_warning,
            order_placed_at=d.request.order.placed_at,
            now=d.request.received_at,  # windows are judged at the moment the request was received
            follower_drop_window_days=d.claim.line.product.follower_drop_window_days,
        )
        verdicts[d.id] = (rules.decide_account(facts), result)
    return _decisions_store(decisions=decisions, verdicts=verdicts, now=now)


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
        events: list[Event] = []
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
            events.append(
                Event(
                    at=now,
                    kind=Event.Kind.ACCOUNT_DECIDED,
                    order_id=row.request.order_id,
                    account_id=row.account_id,
                    request_id=row.request_id,
                    message=f"{decision} ({verdict.rule})",
                    data={
                        "decision": decision,
                        "rule": verdict.rule,
                        "interactions": verdict.interactions,
                        "next_check_at": row.next_check_at.isoformat()
                        if row.next_check_at
                        else None,
                    },
                )
            )
        batches = _batches_create(approved_by_claim=approved_by_claim, actor=None, now=now)
        rows_update(AccountDecision, rows, DECIDED_FIELDS)
        events_record_many(events)
        claims_refresh_usage(claim_ids={r.claim_id for r in rows})
        request_ids = sorted({r.request_id for r in rows})
        for request_id in request_ids:
            request_refresh_status(request_id=request_id, now=now)
        _wake_fulfilment(batches)
    return len(rows)


def claims_refresh_usage(*, claim_ids: set[int]) -> None:
    """A line's compensation is used by the first request where an account of it was approved,
    sent to review or is still being verified; a claim whose accounts all ended up rejected does
    not use it (the customer may ask again)."""
    if claim_ids:
        live = AccountDecision.objects.filter(claim_id=OuterRef("pk")).exclude(
            decision=Decision.REJECTED
        )
        LineClaim.objects.filter(id__in=claim_ids, refusal="").update(
            uses_compensation=Exists(live)
        )


def _batches_create(
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
        event_record(
            kind=Event.Kind.BATCH_CREATED,
            actor=actor,
            order_id=line.order_id,
            request_id=rows[0].request_id,
            batch_id=batch.id,
            message=f"{batch.quantity} replacement(s) of product {line.product_id}",
            data={"decision_ids": [r.id for r in rows], "line_id": line.id},
            at=now,
        )
        batches.append(batch)
    return batches


def _wake_fulfilment(batches: list[ReplacementBatch]) -> None:
    if batches:
        from compensation.services.fulfilment import fulfilment_wake

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
        batches = _batches_create(approved_by_claim=by_claim, actor=actor, now=now)
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
        events_record_many(
            Event(
                at=now,
                actor_id=actor_pk(actor),
                kind=Event.Kind.REVIEW_DECIDED,
                order_id=row.request.order_id,
                account_id=row.account_id,
                request_id=row.request_id,
                message=f"approved{' — ' + note if note else ''}",
                data={"decision": Decision.APPROVED, "rule": row.rule, "note": note},
            )
            for row in rows
        )
        claims_refresh_usage(claim_ids=set(by_claim))
        for request_id in sorted({r.request_id for r in rows}):
            request_refresh_status(request_id=request_id, now=now)
        _wake_fulfilment(batches)
    return batches


def request_refresh_status(*, request_id: uuid.UUID, now: datetime) -> bool:
    """Mark the request decided once none of its accounts is pending or awaiting a re-check.
    Returns True when this call decided it (so the summary e-mail goes out exactly once)."""
    with transaction.atomic():
        still_checking = AccountDecision.objects.filter(
            Q(decision=Decision.PENDING) | Q(decision=Decision.UNVERIFIED), request_id=request_id
        ).exists()
        if still_checking:
            return False
        request = CompensationRequest.objects.filter(
            id=request_id, status=RequestStatus.CHECKING
        ).first()
        if request is None:
            return False
        return _request_mark_decided(request=request, now=now)


def _request_mark_decided(*, request: CompensationRequest, now: datetime) -> bool:
    updated = CompensationRequest.objects.filter(
        id=request.id, status=RequestStatus.CHECKING
    ).update(status=RequestStatus.DECIDED, decided_at=now)
    if not updated:
        return False
    request.status, request.decided_at = RequestStatus.DECIDED, now
    counts: dict[str, int] = defaultdict(int)
    for decision in AccountDecision.objects.filter(request=request).values_list(
        "decision", flat=True
    ):
        counts[decision] += 1
    event_record(
        kind=Event.Kind.REQUEST_DECIDED,
        order_id=request.order_id,
        request_id=request.id,
        message=", ".join(f"{k}: {v}" for k, v in sorted(counts.items())),
        data=dict(counts),
        at=now,
    )
    webhooks_emit(event_type="request.decided", request_ids=[request.id], now=now)
    from compensation.services import notifications

    notifications.notify_request_received(request=request)
    if counts.get(Decision.MANUAL_REVIEW):
        notifications.notify_sent_to_review(request=request)
    return True
