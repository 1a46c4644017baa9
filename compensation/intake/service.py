"""Requests by e-mail: record a message, act on it exactly once, and let staff close it.

`message_record` writes the row before anything is done (the unique Message-ID is the claim).
`message_handle` locks the row and, only while it is still `received`, decides everything in ONE
transaction: the request (through `request_submit`, the form's service, with the form's rate
limit keyed by the sender), the outcome, what was understood, the reply to send, the audit event.
A poll killed before that commit leaves the message `received` and unmarked (the next poll acts on
it); killed after it, the next poll finds it handled and only marks it in the mailbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail.utils import DNS_NAME
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower, Trim

from compensation.intake import replies, tasks
from compensation.intake.events import (
    inbound_email_closed_event,
    inbound_email_failed_event,
    inbound_email_handled_event,
)
from compensation.intake.imap import ImapConfigError, imap_config
from compensation.intake.parsing import (
    ParsedMessage,
    follow_up_reason,
    own_ids,
    skip_reason,
)
from compensation.intake.understanding import understand
from compensation.models import InboundMessage
from compensation.queueing import enqueue_on_commit
from compensation.ratelimit import rate_limit_hit_for
from compensation.services.submit import OrderNotFound, request_submit
from inventory.audit import Actor, actor_pk
from orders.models import Order

Outcome = InboundMessage.Outcome
# A message whose handling raised this often is given up and left for a person.
MAX_HANDLE_ATTEMPTS = 3
# Outcomes a person should look at; automatic mail and own mail are only recorded.
_ATTENTION = {Outcome.NOT_UNDERSTOOD, Outcome.RATE_LIMITED, Outcome.NEEDS_PERSON, Outcome.FAILED}


def own_addresses() -> set[str]:
    """The desk's own addresses (mail from them is never answered)."""
    addresses = {replies.desk_address()}
    try:
        username = imap_config(settings.IMAP_URL).username if settings.IMAP_URL else ""
    except ImapConfigError:
        username = ""
    if "@" in username:
        addresses.add(username.lower())
    return {a for a in addresses if a}


def _valid_sender(address: str) -> str:
    try:
        validate_email(address)
    except ValidationError:
        return ""
    return address


def message_record(
    *, parsed: ParsedMessage, arrived_at: datetime | None, now: datetime
) -> InboundMessage:
    """The row of this message: created now, or the one a previous poll created (same key)."""
    sender = _valid_sender(parsed.sender)
    skip = skip_reason(replace(parsed, sender=sender), own_addresses=own_addresses())
    message, _created = InboundMessage.objects.get_or_create(
        message_key=parsed.message_key,
        defaults={
            "message_id": parsed.message_id,
            "sender": sender,
            "subject": parsed.subject,
            "sent_at": parsed.sent_at,
            # The server's arrival time, never later than now (a clock ahead must not help).
            "arrived_at": min(arrived_at, now) if arrived_at else now,
            "read_at": now,
            "thread_ids": parsed.thread_ids[-50:],
            "size": parsed.size,
            "truncated": parsed.truncated,
            "attachments": parsed.attachments,
            "text": parsed.text[: settings.IMAP_MAX_TEXT_CHARS],
            "skip_reason": skip,
        },
    )
    return message


def _thread_reason(message: InboundMessage) -> str:
    own = own_ids(message.thread_ids, reply_domain=replies.desk_domain(), app_domain=str(DNS_NAME))
    help_ids = set(
        InboundMessage.objects.filter(
            reply_message_id__in=own, reply_kind=InboundMessage.Reply.HELP
        ).values_list("reply_message_id", flat=True)
    )
    return follow_up_reason(own, help_reply_ids=help_ids)


def _orders_of_sender(sender: str, candidates: Sequence[str]) -> list[Order]:
    """The sender's orders among the candidates, in the order the mail mentions them."""
    wanted = {c.strip().lower(): i for i, c in enumerate(candidates)}
    orders = (
        Order.objects.annotate(email_key=Lower(Trim("email")), id_key=Lower(Trim("order_id")))
        .filter(email_key=sender.strip().lower(), id_key__in=list(wanted))
        .only("id", "order_id", "email")
    )
    return sorted(orders, key=lambda o: wanted[o.order_id.strip().lower()])


def _act(message: InboundMessage) -> dict[str, Any]:
    """Decide what the mail asks for; returns what was understood (and sets the outcome)."""
    if message.skip_reason:
        message.outcome = Outcome.IGNORED
        return {}
    thread_reason = _thread_reason(message)
    if thread_reason:
        message.outcome, message.skip_reason = Outcome.NEEDS_PERSON, thread_reason
        return {}
    if rate_limit_hit_for(f"mail:{message.sender.lower()}"):
        message.outcome, message.skip_reason = Outcome.RATE_LIMITED, "rate_limited"
        return {}
    reading = understand(
        subject=message.subject, text=message.text, pattern=settings.ORDER_ID_PATTERN
    )
    understood: dict[str, Any] = {
        "order_id": None,
        "candidates": reading.candidates[:20],
        "password_change_warning": reading.password_change_warning,
        "warning_sentence": reading.warning_sentence,
        "reason": reading.reason,
    }
    orders = _orders_of_sender(message.sender, reading.candidates)
    if orders:
        try:
            result = request_submit(
                email=message.sender,
                order_id=orders[0].order_id,
                reason=reading.reason,
                password_change_warning=reading.password_change_warning,
                skus=None,
                now=message.arrived_at,
            )
        except OrderNotFound:  # the same answer as no order at all
            orders = []
        else:
            message.outcome, message.request = Outcome.REQUEST, result.request
            message.reply_kind = InboundMessage.Reply.REQUEST_LINK
            understood.update(
                order_id=orders[0].order_id,
                created=result.created,
                other_order_ids=[o.order_id for o in orders[1:5]],
            )
    if not orders:
        message.outcome = Outcome.NOT_UNDERSTOOD
        message.reply_kind = InboundMessage.Reply.HELP
    return understood


def message_handle(*, message_pk: int, now: datetime) -> InboundMessage:
    """Act on a recorded message once; a message already handled is returned unchanged."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().get(pk=message_pk)
        if message.outcome != Outcome.RECEIVED:
            return message
        message.understood = _act(message)
        message.needs_attention = message.outcome in _ATTENTION
        message.handled_at = now
        if message.reply_kind:
            message.reply_to = message.sender
            message.reply_message_id = replies.reply_message_id_new()
        message.save()
        inbound_email_handled_event(message=message, now=now)
        if message.reply_kind:
            # robust: a broker hiccup must not look like a failure to handle the (committed)
            # message; the poll's outbox sweep sends any reply whose task was not queued.
            enqueue_on_commit(tasks.send_reply, message.pk, robust=True)
    return message


def message_handle_failed(*, message_pk: int, now: datetime) -> bool:
    """Count a failed attempt; after MAX_HANDLE_ATTEMPTS the message is left for a person.
    Returns True when it was given up (the poll then marks it in the mailbox)."""
    with transaction.atomic():
        message = InboundMessage.objects.select_for_update().get(pk=message_pk)
        if message.outcome != Outcome.RECEIVED:
            return True
        message.handle_attempts += 1
        if message.handle_attempts < MAX_HANDLE_ATTEMPTS:
            message.save(update_fields=["handle_attempts"])
            return False
        message.outcome, message.needs_attention, message.handled_at = Outcome.FAILED, True, now
        message.save(update_fields=["handle_attempts", "outcome", "needs_attention", "handled_at"])
        inbound_email_failed_event(message=message, now=now)
    return True


def messages_close(*, message_ids: Sequence[int], actor: Actor, now: datetime) -> int:
    """Staff handled these messages by hand: they leave the list of mail waiting for a person."""
    with transaction.atomic():
        messages = list(
            InboundMessage.objects.select_for_update()
            .filter(pk__in=list(message_ids), needs_attention=True)
            .order_by("pk")
        )
        for message in messages:
            message.needs_attention, message.closed_at = False, now
            message.closed_by_id = actor_pk(actor)
            message.save(update_fields=["needs_attention", "closed_at", "closed_by"])
            inbound_email_closed_event(message=message, actor=actor, now=now)
    return len(messages)
