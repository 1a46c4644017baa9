"""Audit events of requests by e-mail (one function per kind; kinds in compensation.events)."""

from __future__ import annotations

from datetime import datetime

from compensation.events import CompensationEvent
from compensation.models_intake import InboundMessage
from inventory.audit import Actor, event_record
from inventory.models import Event


def inbound_reply_sent_event(*, message: InboundMessage, now: datetime) -> Event:
    """The desk's reply to a customer's mail went out (requests by e-mail)."""
    return event_record(
        kind=CompensationEvent.EMAIL_SENT,
        order_id=message.request.order_id if message.request else None,
        request_id=message.request_id,
        message=f"reply to e-mail: {message.reply_kind}",
        data={"inbound_message_id": message.pk, "kind": f"intake_{message.reply_kind}"},
        at=now,
    )


def inbound_email_handled_event(*, message: InboundMessage, now: datetime) -> Event:
    """The desk acted on a mail once: its outcome, why it was not answered, the reply decided."""
    return event_record(
        kind=CompensationEvent.INBOUND_EMAIL_HANDLED,
        order_id=message.request.order_id if message.request else None,
        request_id=message.request_id,
        message=message.outcome,
        data={
            "inbound_message_id": message.pk,
            "outcome": message.outcome,
            "skip_reason": message.skip_reason,
            "reply": message.reply_kind,
        },
        at=now,
    )


def inbound_email_failed_event(*, message: InboundMessage, now: datetime) -> Event:
    """A mail whose handling kept failing was given up and left for a person."""
    return event_record(
        kind=CompensationEvent.INBOUND_EMAIL_HANDLED,
        message=message.outcome,
        data={"inbound_message_id": message.pk, "outcome": message.outcome},
        at=now,
    )


def inbound_email_closed_event(*, message: InboundMessage, actor: Actor, now: datetime) -> Event:
    """Staff handled a mail by hand: it leaves the list waiting for a person."""
    return event_record(
        kind=CompensationEvent.INBOUND_EMAIL_CLOSED,
        actor=actor,
        order_id=message.request.order_id if message.request else None,
        request_id=message.request_id,
        message=f"{message.sender}: {message.subject[:80]}",
        data={"inbound_message_id": message.pk, "outcome": message.outcome},
        at=now,
    )
