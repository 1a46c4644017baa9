"""Writing judged checks (`check_judging`): each request's decisions in one short transaction,
a compare-and-set on every row, so a twin task (at-least-once delivery) decides nothing twice.

- one request's write never blocks another's; if a request's write fails, its accounts are
  written one by one, and an account whose own write still fails goes to a person (or, if even
  that is refused, waits for its next re-check, no later than the longest delay);
- a staff decision racing the check (the account was replaced, or the line's compensation used,
  by an override of an earlier request) turns the account into `already_compensated`, never into
  a task that fails for ever;
- the rows' update records and events were made before the transaction; it only writes them
  (and makes again those of an account that turned out compensated elsewhere).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Field

from compensation import rules
from compensation.events import accounts_decided_events
from compensation.models import AccountDecision, Decision, LineClaim, ReplacementBatch
from compensation.services.approval import (
    DECIDED_FIELDS,
    batches_create,
    claims_refresh_usage,
    request_refresh_status,
)
from compensation.services.check_judging import Judged, decided_event, outcome_of
from compensation.services.facts import account_baseline
from compensation.services.fulfilment import fulfilment_wake
from inventory.bulk import record_join, row_record, rows_update

log = logging.getLogger(__name__)

# Attempts at writing one request's decisions when a staff decision commits in between.
RACE_ATTEMPTS = 3

Verdicts = dict[int, Judged]
Taken = dict[int, datetime]  # decision id -> when the request that compensated it was received
Stored = tuple[int, list[ReplacementBatch]]  # decisions written, batches created
# The attributes a store sets on the rows (for the batch, its id: that also drops the cached one).
_DECIDED_ATTNAMES = [
    field.attname
    for field in (AccountDecision._meta.get_field(name) for name in DECIDED_FIELDS)
    if isinstance(field, Field)
]


def decisions_store(
    *, decisions: list[AccountDecision], verdicts: Verdicts, taken: Taken, now: datetime
) -> int:
    """Write each request's decisions in its own transaction. `taken`: `compensated_elsewhere`
    of the decisions, as read before. Returns the number of decisions written."""
    by_request: dict[uuid.UUID, list[AccountDecision]] = defaultdict(list)
    for decision in decisions:
        by_request[decision.request_id].append(decision)
    stored = 0
    products: set[int] = set()  # of the replacement batches created
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


def _store_despite_races(
    group: list[AccountDecision], verdicts: Verdicts, now: datetime, taken: Taken | None = None
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
    group: list[AccountDecision], verdicts: Verdicts, now: datetime, taken: Taken | None = None
) -> Stored:
    """Write one request's decisions in one transaction (compare-and-set on each row). `taken`:
    `compensated_elsewhere` as read before the transaction (None: read it now)."""
    snapshot = {d.id: (d.decision, d.check_attempts) for d in group}
    with transaction.atomic():
        # The group is one request's: its rows in the group's id range are locked (two bounds,
        # not a list of ids; a row of the request in between that is not in the group is
        # locked along, harmlessly, and left alone).
        current = {
            pk: (decision, attempts)
            for pk, decision, attempts in AccountDecision.objects.select_for_update()
            .filter(request_id=group[0].request_id, id__range=(min(snapshot), max(snapshot)))
            .order_by("id")
            .values_list("id", "decision", "check_attempts")
        }
        # Compare-and-set: a twin task (at-least-once delivery) may have decided some already.
        rows = [d for d in group if current.get(d.id) == snapshot[d.id]]
        if taken is None:
            taken = compensated_elsewhere(rows)
        records, events = [], []
        approved_by_claim: dict[int, list[AccountDecision]] = defaultdict(list)
        for row in rows:
            judged = verdicts[row.id]
            outcome, record, event = judged.outcome, judged.record, judged.event
            if row.id in taken and judged.verdict.decision != Decision.REJECTED:
                verdict = _already_compensated(row, earlier=taken[row.id])
                outcome = outcome_of(row, verdict, judged.result, now=now)
                record = outcome.record(row.id)
                event = decided_event(row, outcome, now=now)
            outcome.apply(row)
            records.append(record)
            events.append(event)
            if outcome.decision == Decision.APPROVED:
                approved_by_claim[row.claim_id].append(row)
        batches = batches_create(approved_by_claim=approved_by_claim, actor=None, now=now)
        # The batch is known only now: each row's record gains it (one record per batch).
        batch_of = {
            b: row_record(AccountDecision, {"batch": b}) for b in {r.batch_id for r in rows}
        }
        rows_update(
            AccountDecision,
            rows,
            DECIDED_FIELDS,
            records=[
                record_join(record, batch_of[row.batch_id])
                for row, record in zip(rows, records, strict=True)
            ],
        )
        accounts_decided_events(prepared=events)
        claims_refresh_usage(claim_ids={r.claim_id for r in rows})
        requests = {r.request_id: r.request for r in rows}
        for request_id in sorted(requests):
            request_refresh_status(request_id=request_id, now=now, request=requests[request_id])
    return len(rows), batches


def compensated_elsewhere(rows: list[AccountDecision]) -> Taken:
    """{decision id: when the other request was received} for the accounts that were replaced,
    or whose line's compensation was used, by another request meanwhile (a staff override of an
    earlier, rejected request). The store applies it to accounts it would not reject anyway."""
    if not rows:
        return {}
    # Looked up by the requests (a few), not by the rows' accounts and lines (up to 1,000 each):
    # every account and line of these requests, which includes the rows'.
    request_ids = {r.request_id for r in rows}
    replaced = dict(
        AccountDecision.objects.filter(
            decision=Decision.APPROVED,
            account_id__in=AccountDecision.objects.filter(request_id__in=request_ids).values(
                "account_id"
            ),
        )
        .exclude(request_id__in=request_ids)
        .values_list("account_id", "request__received_at")
    )
    used = dict(
        LineClaim.objects.filter(
            uses_compensation=True,
            line_id__in=LineClaim.objects.filter(request_id__in=request_ids).values("line_id"),
        )
        .exclude(request_id__in=request_ids)
        .values_list("line_id", "request__received_at")
    )
    taken: Taken = {}
    for row in rows:
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
