"""Audit events of the compensation desk: one function per kind (see `inventory.audit`, the one
writer). The kinds are declared here, so a new one needs no migration anywhere."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    Notification,
    ReplacementBatch,
)
from inventory.audit import (
    Actor,
    PreparedEvent,
    event_new,
    event_prepare,
    event_record,
    events_record_many,
    events_record_prepared,
)
from inventory.models import Event
from orders.models import OrderLine


class CompensationEvent(StrEnum):
    REQUEST_RECEIVED = "request_received"
    LINE_REFUSED = "line_refused"
    REQUEST_DECIDED = "request_decided"
    ACCOUNT_DECIDED = "account_decided"
    BATCH_CREATED = "batch_created"
    BATCH_WAITING = "batch_waiting"
    BATCH_DELIVERED = "batch_delivered"
    REVIEW_CLAIMED = "review_claimed"
    REVIEW_RELEASED = "review_released"
    REVIEW_DECIDED = "review_decided"
    REVIEW_RECHECKED = "review_rechecked"
    OVERRIDE_ISSUED = "override_issued"
    EMAIL_SENT = "email_sent"
    EMAIL_FAILED = "email_failed"
    ORDER_LINK_RESENT = "order_link_resent"
    INBOUND_EMAIL_HANDLED = "inbound_email_handled"
    INBOUND_EMAIL_CLOSED = "inbound_email_closed"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint_created"
    WEBHOOK_ENDPOINT_CHANGED = "webhook_endpoint_changed"
    WEBHOOK_SECRET_REPLACED = "webhook_secret_replaced"  # noqa: S105 (a kind, not a secret)
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint_deleted"
    WEBHOOK_ENDPOINT_PAUSED = "webhook_endpoint_paused"
    WEBHOOK_ENDPOINT_RESUMED = "webhook_endpoint_resumed"
    WEBHOOK_DELIVERY_FAILED = "webhook_delivery_failed"
    WEBHOOK_DELIVERY_RESENT = "webhook_delivery_resent"


# --- requests and checks -----------------------------------------------------------------------


def request_received_event(
    *, request: CompensationRequest, skus: Sequence[str], accounts: int, now: datetime
) -> Event:
    return event_record(
        kind=CompensationEvent.REQUEST_RECEIVED,
        order_id=request.order_id,
        request_id=request.id,
        message=f"{accounts} account(s) on {len(skus)} line(s)",
        data={"skus": list(skus), "password_change_warning": request.password_change_warning},
        at=now,
    )


def line_refused_event(*, claim: LineClaim, order_id: int, now: datetime) -> Event:
    return event_record(
        kind=CompensationEvent.LINE_REFUSED,
        order_id=order_id,
        request_id=claim.request_id,
        message=claim.refusal,
        data={"line_id": claim.line_id, **claim.refusal_detail},
        at=now,
    )


def request_decided_event(
    *, request: CompensationRequest, counts: Mapping[str, int], now: datetime
) -> Event:
    return event_record(
        kind=CompensationEvent.REQUEST_DECIDED,
        order_id=request.order_id,
        request_id=request.id,
        message=", ".join(f"{k}: {v}" for k, v in sorted(counts.items())),
        data=dict(counts),
        at=now,
    )


def account_decided_event(
    *,
    order_id: int,
    account_id: int,
    request_id: uuid.UUID,
    decision: str,
    rule: str,
    interactions: int | None,
    next_check_at: datetime | None,
    now: datetime,
) -> PreparedEvent:
    """The event of one account the checks decide, made ahead of their store's transaction (which
    writes it with `accounts_decided_events`)."""
    return event_prepare(
        kind=CompensationEvent.ACCOUNT_DECIDED,
        order_id=order_id,
        account_id=account_id,
        request_id=request_id,
        message=f"{decision} ({rule})",
        data={
            "decision": decision,
            "rule": rule,
            "interactions": interactions,
            "next_check_at": next_check_at.isoformat() if next_check_at else None,
        },
        at=now,
    )


def accounts_decided_events(*, prepared: Sequence[PreparedEvent]) -> int:
    """One event per account the checks decided (`account_decided_event`)."""
    return events_record_prepared(prepared)


# --- batches -----------------------------------------------------------------------------------


def batch_created_event(
    *,
    batch: ReplacementBatch,
    line: OrderLine,
    decision_ids: Sequence[int],
    actor: Actor,
    now: datetime,
) -> Event:
    return event_record(
        kind=CompensationEvent.BATCH_CREATED,
        actor=actor,
        order_id=line.order_id,
        request_id=batch.request_id,
        batch_id=batch.id,
        message=f"{batch.quantity} replacement(s) of product {line.product_id}",
        data={"decision_ids": list(decision_ids), "line_id": line.id},
        at=now,
    )


def batches_delivered_events(
    *,
    deliveries: Sequence[tuple[ReplacementBatch, Sequence[int]]],
    product_id: int,
    now: datetime,
) -> int:
    """One event per batch delivered; `deliveries` holds (batch, the account ids it got). A drain
    delivers up to thousands at once: their records are written as made, with no model instance
    each (as the checks' events). Returns how many."""
    return events_record_prepared(
        [
            event_prepare(
                kind=CompensationEvent.BATCH_DELIVERED,
                order_id=batch.line.order_id,
                request_id=batch.request_id,
                batch_id=batch.id,
                message=f"{batch.quantity} replacement account(s) delivered",
                data={
                    "line_id": batch.line_id,
                    "account_ids": list(account_ids),
                    "product_id": product_id,
                },
                at=now,
            )
            for batch, account_ids in deliveries
        ]
    )


def batches_waiting_events(
    *,
    batches: Sequence[ReplacementBatch],
    product_id: int,
    free_after_drain: int,
    now: datetime,
) -> list[Event]:
    """One event per batch found short of stock for the first time."""
    return events_record_many(
        event_new(
            kind=CompensationEvent.BATCH_WAITING,
            order_id=batch.line.order_id,
            request_id=batch.request_id,
            batch_id=batch.id,
            message=f"waiting for stock: {batch.quantity} account(s) of product {product_id}",
            data={
                "line_id": batch.line_id,
                "product_id": product_id,
                "free_after_drain": free_after_drain,
            },
            at=now,
        )
        for batch in batches
    )


# --- the review queue --------------------------------------------------------------------------


def review_claimed_event(
    *, row: AccountDecision, actor: Actor, until: datetime, now: datetime
) -> Event:
    return event_record(
        kind=CompensationEvent.REVIEW_CLAIMED,
        actor=actor,
        order_id=row.request.order_id,
        account_id=row.account_id,
        request_id=row.request_id,
        message=f"claimed until {until:%Y-%m-%d %H:%M} UTC",
        data={"decision_id": row.id, "claimed_until": until.isoformat()},
        at=now,
    )


def review_released_event(*, row: AccountDecision, actor: Actor, now: datetime) -> Event:
    return event_record(
        kind=CompensationEvent.REVIEW_RELEASED,
        actor=actor,
        order_id=row.request.order_id,
        account_id=row.account_id,
        request_id=row.request_id,
        message="claim released",
        data={"decision_id": row.id},
        at=now,
    )


def review_claims_expired_events(*, rows: Sequence[AccountDecision], now: datetime) -> list[Event]:
    """One `review_released` event per claim whose time ran out (rows as they were claimed)."""
    return events_record_many(
        event_new(
            kind=CompensationEvent.REVIEW_RELEASED,
            order_id=row.request.order_id,
            account_id=row.account_id,
            request_id=row.request_id,
            message="claim expired",
            data={
                "decision_id": row.id,
                "claimed_by": row.claimed_by_id,
                "claimed_until": row.claimed_until.isoformat() if row.claimed_until else None,
            },
            at=now,
        )
        for row in rows
    )


def review_approved_events(
    *, rows: Sequence[AccountDecision], actor: Actor, note: str, now: datetime
) -> list[Event]:
    """One `review_decided` event per approved account (staff review, override or the checks'
    approval path: the actor is None for the system)."""
    return events_record_many(
        event_new(
            kind=CompensationEvent.REVIEW_DECIDED,
            actor=actor,
            order_id=row.request.order_id,
            account_id=row.account_id,
            request_id=row.request_id,
            message=f"approved{' — ' + note if note else ''}",
            data={"decision": Decision.APPROVED, "rule": row.rule, "note": note},
            at=now,
        )
        for row in rows
    )


def review_rejected_events(
    *,
    rows: Sequence[AccountDecision],
    actor: Actor,
    customer_message: str,
    note: str,
    now: datetime,
) -> list[Event]:
    return events_record_many(
        event_new(
            kind=CompensationEvent.REVIEW_DECIDED,
            actor=actor,
            order_id=row.request.order_id,
            account_id=row.account_id,
            request_id=row.request_id,
            message=f"rejected — {customer_message}",
            data={
                "decision": Decision.REJECTED,
                "rule": row.rule,
                "note": note,
                "customer_message": customer_message,
                "decision_id": row.id,
            },
            at=now,
        )
        for row in rows
    )


def review_rechecked_event(
    *, row: AccountDecision, actor: Actor, entry: Mapping[str, Any], now: datetime
) -> Event:
    """Staff read the profile again; `entry` is what was stored in the case's evidence."""
    error = entry["error"]
    return event_record(
        kind=CompensationEvent.REVIEW_RECHECKED,
        actor=actor,
        order_id=row.request.order_id,
        account_id=row.account_id,
        request_id=row.request_id,
        message="status re-checked by staff" + (f" — {error}" if error else ""),
        data={"decision_id": row.id, "observation": entry["observation"], "error": error},
        at=now,
    )


def override_issued_event(
    *,
    row: AccountDecision,
    actor: Actor,
    batch_id: int | None,
    reason: str,
    previous: Mapping[str, Any],
    now: datetime,
) -> Event:
    return event_record(
        kind=CompensationEvent.OVERRIDE_ISSUED,
        actor=actor,
        order_id=row.request.order_id,
        account_id=row.account_id,
        request_id=row.request_id,
        batch_id=batch_id,
        message=reason,
        data={"decision_id": row.id, "previous": dict(previous)},
        at=now,
    )


# --- e-mails -----------------------------------------------------------------------------------


def email_sent_event(
    *, notification: Notification, batch_id: int | None, message_id: str, now: datetime
) -> Event:
    return event_record(
        kind=CompensationEvent.EMAIL_SENT,
        order_id=notification.order_id,
        request_id=notification.request_id,
        batch_id=batch_id,
        data={
            "notification_id": notification.pk,
            "kind": notification.kind,
            "key": notification.key,
            "attempts": notification.attempts,
            "message_id": message_id,
        },
        at=now,
    )


def email_failed_event(
    *, notification: Notification, batch_id: int | None, attempts: int, error: str, now: datetime
) -> Event:
    """The customer's e-mail could not be delivered: staff see it on the request."""
    return event_record(
        kind=CompensationEvent.EMAIL_FAILED,
        order_id=notification.order_id,
        request_id=notification.request_id,
        batch_id=batch_id,
        message=f"{notification.kind} to the customer failed after {attempts} attempt(s): {error}",
        data={
            "notification_id": notification.pk,
            "kind": notification.kind,
            "attempts": attempts,
            "error": error,
        },
        at=now,
    )


def order_link_resent_event(*, order_id: int, email: str, actor: Actor, now: datetime) -> Event:
    """Staff e-mailed the customer a fresh order-page link (the link itself is issued, with its
    own event, when the e-mail is sent)."""
    return event_record(
        kind=CompensationEvent.ORDER_LINK_RESENT,
        actor=actor,
        order_id=order_id,
        message=f"a new order-page link e-mailed to {email}",
        at=now,
    )
