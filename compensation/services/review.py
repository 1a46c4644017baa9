"""The review queue: staff claim, decide, re-check and override cases the rules could not settle.

Every write is a compare-and-set or runs on rows locked in primary-key order; every state change
records an `orders.Event` in the same transaction. Approvals go through the one approval path
(`approval.decisions_approve`: one replacement batch per line for the accounts approved in one
staff decision). The status service is called with no lock or transaction held.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q

from compensation import rules
from compensation import status as status_service
from compensation.events import (
    override_issued_event,
    review_claimed_event,
    review_claims_expired_events,
    review_rechecked_event,
    review_rejected_events,
    review_released_event,
)
from compensation.models import AccountDecision, Decision
from compensation.selectors_backoffice import next_case_ids
from compensation.services.approval import (
    claims_refresh_usage,
    decisions_approve,
    request_refresh_status,
)
from compensation.services.email_schedule import Change, notifications_on_change
from compensation.services.facts import account_facts
from compensation.webhooks.outbox import webhooks_emit
from inventory.audit import Actor, actor_pk


class ReviewConflict(Exception):
    """The case is claimed by someone else, already decided, or otherwise not open to this
    action. Nothing was changed."""


def _may(actor: Actor, perm: str) -> bool:
    return (
        actor is not None
        and actor.is_authenticated
        and getattr(actor, "has_perm", lambda _p: False)(perm)
    )


def _require(actor: Actor, perm: str) -> None:
    if not _may(actor, perm):
        raise PermissionDenied(perm)


def _claim_free_for(actor: Actor, now: datetime) -> Q:
    """Not claimed, claim expired, or claimed by the actor."""
    return (
        Q(claimed_by__isnull=True)
        | Q(claimed_until__isnull=True)
        | Q(claimed_until__lte=now)
        | Q(claimed_by_id=actor_pk(actor))
    )


# --- claims ------------------------------------------------------------------------------------


def claim_holder(decision: AccountDecision, *, now: datetime) -> int | None:
    """Who holds the case at `now`: the claimant's id while the claim runs (an expired claim frees
    the case even before `review_claims_expire` clears it), else None."""
    if decision.claimed_until is not None and decision.claimed_until > now:
        return decision.claimed_by_id
    return None


@dataclasses.dataclass(frozen=True)
class CaseAccess:
    """What one agent may do with a case now: the checks the writes below enforce, for the page
    to offer only what will be accepted."""

    claimed_by_me: bool
    claimed_by_other: bool
    can_decide: bool
    can_override: bool


def review_case_access(*, decision: AccountDecision, actor: Actor, now: datetime) -> CaseAccess:
    holder = claim_holder(decision, now=now)
    by_me = holder is not None and holder == actor_pk(actor)
    by_other = holder is not None and not by_me
    return CaseAccess(
        claimed_by_me=by_me,
        claimed_by_other=by_other,
        can_decide=decision.decision == Decision.MANUAL_REVIEW
        and not by_other
        and _may(actor, "compensation.review_decision"),
        can_override=decision.decision == Decision.REJECTED
        and _may(actor, "compensation.override_decision"),
    )


def review_claim(*, decision_id: int, actor: Actor, now: datetime) -> datetime:
    """Claim a waiting case for `REVIEW_CLAIM_MINUTES` (renewing one's own claim). Raises
    `ReviewConflict` when another agent holds an unexpired claim or the case is not waiting."""
    _require(actor, "compensation.review_decision")
    until = now + timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)
    with transaction.atomic():
        updated = (
            AccountDecision.objects.filter(id=decision_id, decision=Decision.MANUAL_REVIEW)
            .filter(_claim_free_for(actor, now))
            .update(claimed_by_id=actor_pk(actor), claimed_until=until)
        )
        if updated != 1:
            raise ReviewConflict("this case is claimed by another agent or no longer waiting")
        row = AccountDecision.objects.select_related("request").get(id=decision_id)
        review_claimed_event(row=row, actor=actor, until=until, now=now)
    return until


def review_claim_next(*, after_decision_id: int, actor: Actor, now: datetime) -> int | None:
    """ "Open next": claim the case that follows `after_decision_id` in queue order (skipping
    cases others hold, wrapping to the oldest) so two agents working the queue never land on the
    same case. A candidate taken meanwhile is skipped. Returns the claimed case's id, or None when
    nothing is left for this agent."""
    _require(actor, "compensation.review_decision")
    after = AccountDecision.objects.filter(pk=after_decision_id).first()
    if after is None:
        return None
    for candidate in next_case_ids(after=after, user_id=actor_pk(actor), now=now):
        try:
            review_claim(decision_id=candidate, actor=actor, now=now)
        except ReviewConflict:
            continue  # claimed or decided since we looked
        return candidate
    return None


def review_release(*, decision_id: int, actor: Actor, now: datetime) -> bool:
    """Give one's own claim back. Returns False when the actor held no claim on it."""
    with transaction.atomic():
        updated = AccountDecision.objects.filter(
            id=decision_id, claimed_by_id=actor_pk(actor)
        ).update(claimed_by=None, claimed_until=None)
        if not updated:
            return False
        row = AccountDecision.objects.select_related("request").get(id=decision_id)
        review_released_event(row=row, actor=actor, now=now)
    return True


def review_claims_expire(*, now: datetime) -> int:
    """Release claims whose time ran out (schedule). Returns how many were released."""
    with transaction.atomic():
        rows = list(
            AccountDecision.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(claimed_by__isnull=False, claimed_until__lte=now)
            .select_related("request")
            .order_by("id")
        )
        if not rows:
            return 0
        AccountDecision.objects.filter(id__in=[r.id for r in rows], claimed_until__lte=now).update(
            claimed_by=None, claimed_until=None
        )
        review_claims_expired_events(rows=rows, now=now)
    return len(rows)


# --- decisions ---------------------------------------------------------------------------------


def _lock_open_cases(
    *, decision_ids: Sequence[int], actor: Actor, now: datetime
) -> list[AccountDecision]:
    """Lock the cases (primary-key order) and check every one is waiting for review and not
    claimed by someone else: all of them or raise (nothing changed)."""
    ids = sorted({int(i) for i in decision_ids})
    if not ids:
        raise ReviewConflict("no case selected")
    rows = list(
        AccountDecision.objects.select_for_update(of=("self",))
        .filter(id__in=ids)
        .select_related("request")
        .order_by("id")
    )
    found = {r.id for r in rows}
    problems = [f"#{i}: not found" for i in ids if i not in found]
    actor_id = actor_pk(actor)
    for r in rows:
        if r.decision != Decision.MANUAL_REVIEW:
            problems.append(f"#{r.id}: already decided ({r.decision})")
        elif claim_holder(r, now=now) not in (None, actor_id):
            problems.append(f"#{r.id}: claimed by another agent")
    if problems:
        raise ReviewConflict("; ".join(problems))
    return rows


def _after_decision(*, rows: list[AccountDecision], now: datetime) -> None:
    """Re-evaluate each request touched and schedule the customer's review e-mail (the staff
    decisions on one request within EMAIL_REVIEW_WINDOW_SECONDS are told together)."""
    claims_refresh_usage(claim_ids={r.claim_id for r in rows})
    request_ids = sorted({r.request_id for r in rows}, key=str)
    for request_id in request_ids:
        request_refresh_status(request_id=request_id, now=now)
        webhooks_emit(event_type="review.decided", request_ids=[request_id], now=now)
    notifications_on_change(request_ids=request_ids, change=Change.REVIEWED, now=now)


def review_approve(
    *,
    decision_ids: Sequence[int],
    actor: Actor,
    now: datetime,
    note: str = "",
    customer_message: str = "",
) -> list[Any]:
    """Approve waiting cases: one replacement batch per line for the accounts approved together.
    `customer_message` (optional) is shown to the customer with the approval; `note` is internal.
    Returns the batches created."""
    _require(actor, "compensation.review_decision")
    with transaction.atomic():
        rows = _lock_open_cases(decision_ids=decision_ids, actor=actor, now=now)
        batches: list[Any] = []
        by_request: dict[Any, list[int]] = defaultdict(list)
        for r in rows:
            by_request[r.request_id].append(r.id)
        for ids in by_request.values():
            batches += decisions_approve(
                decision_ids=ids,
                actor=actor,
                now=now,
                note=note.strip(),
                customer_message=customer_message.strip(),
            )
        _after_decision(rows=rows, now=now)
    return batches


def review_reject(
    *,
    decision_ids: Sequence[int],
    actor: Actor,
    now: datetime,
    customer_message: str,
    note: str = "",
) -> int:
    """Reject waiting cases with a reason the customer reads. Returns how many were rejected."""
    _require(actor, "compensation.review_decision")
    customer_message = customer_message.strip()
    if not customer_message:
        raise ValueError("a rejection needs a reason the customer will read")
    note = note.strip()
    with transaction.atomic():
        rows = _lock_open_cases(decision_ids=decision_ids, actor=actor, now=now)
        AccountDecision.objects.filter(
            id__in=[r.id for r in rows], decision=Decision.MANUAL_REVIEW
        ).update(
            decision=Decision.REJECTED,
            decided_at=now,
            reviewed=True,
            reviewed_by_id=actor_pk(actor),
            reviewed_at=now,
            review_note=note,
            customer_message=customer_message,
            claimed_by=None,
            claimed_until=None,
        )
        review_rejected_events(
            rows=rows, actor=actor, customer_message=customer_message, note=note, now=now
        )
        _after_decision(rows=rows, now=now)
    return len(rows)


def decision_override(*, decision_id: int, actor: Actor, now: datetime, reason: str) -> list[Any]:
    """A manager issues a replacement for an account the rules (or a reviewer) refused, with a
    mandatory reason. Returns the batch created."""
    _require(actor, "compensation.override_decision")
    reason = reason.strip()
    if not reason:
        raise ValueError("an override needs a reason")
    with transaction.atomic():
        row = (
            AccountDecision.objects.select_for_update(of=("self",))
            .select_related("request")
            .filter(id=decision_id)
            .first()
        )
        if row is None or row.decision != Decision.REJECTED:
            raise ReviewConflict("only a refused account can be overridden")
        previous = {"decision": row.decision, "rule": row.rule}
        try:
            with transaction.atomic():
                batches = decisions_approve(
                    decision_ids=[row.id], actor=actor, now=now, note=f"override: {reason}"
                )
        except IntegrityError as exc:
            # e.g. the same account was already replaced through another request.
            raise ReviewConflict("this account was already replaced") from exc
        override_issued_event(
            row=row,
            actor=actor,
            batch_id=batches[0].id if batches else None,
            reason=reason,
            previous=previous,
            now=now,
        )
        _after_decision(rows=[row], now=now)
    return batches


# --- re-check ----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def review_recheck(*, decision_id: int, actor: Actor, now: datetime) -> dict[str, Any]:
    """Read the account's public profile again and store it in the case's evidence (the decision
    itself stays with the agent). Returns the stored entry."""
    _require(actor, "compensation.review_decision")
    row = AccountDecision.objects.select_related(
        "account", "request__order", "claim__line__product"
    ).get(id=decision_id)
    if row.decision != Decision.MANUAL_REVIEW:
        raise ReviewConflict("only a case waiting for review can be re-checked")
    account = row.account
    # Network call: no lock, no transaction held.
    result = status_service.get_status_client().fetch(
        status_service.ProfileQuery(
            key=row.id,
            platform=account.platform,
            username=account.username,
            user_id=account.platform_user_id,
        )
    )
    observation = getattr(result, "observation", None)
    entry: dict[str, Any] = {
        "at": now.isoformat(),
        "by": getattr(actor, "get_username", lambda: None)(),
        "observation": rules.observation_json(observation),
        "error": getattr(result, "error", None),
        "response": _jsonable(getattr(result, "raw", None)),
    }
    try:
        verdict = rules.decide_account(account_facts(decision=row, observation=observation))
        entry["rules_would_say"] = {
            "decision": verdict.decision,
            "rule": verdict.rule,
            "interactions": verdict.evidence.get("interactions"),
        }
    except Exception as exc:  # a suggestion only: never block storing the observation
        entry["rules_would_say"] = {"error": type(exc).__name__}
    with transaction.atomic():
        locked = (
            AccountDecision.objects.select_for_update(of=("self",))
            .filter(id=decision_id, decision=Decision.MANUAL_REVIEW)
            .first()
        )
        if locked is None:
            raise ReviewConflict("the case was decided meanwhile")
        evidence = dict(locked.evidence or {})
        evidence["rechecks"] = [*evidence.get("rechecks", []), entry]
        AccountDecision.objects.filter(id=decision_id).update(evidence=evidence)
        review_rechecked_event(row=row, actor=actor, entry=entry, now=now)
    return entry
