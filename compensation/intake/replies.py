"""The desk's reply to a customer's mail: threaded, with the result-page link or what to send.

The reply is an outbox entry on the `InboundMessage` row, decided in the transaction that handled
the mail (its Message-ID fixed then, so a resend is recognisably the same mail). It is sent after
commit, claimed with a lease so two workers do not send it at once, and marked sent only after
the mail server accepted it: a worker killed in between sends it again later (at least once, never
lost). `replies_send_due` is the safety net the poll runs every minute.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from compensation.intake.events import inbound_reply_sent_event
from compensation.intake.parsing import OWN_ID_PREFIX
from compensation.models import InboundMessage

log = logging.getLogger(__name__)

# A claimed reply not confirmed within this time is tried again (the sender died).
SEND_LEASE = timedelta(minutes=5)
MAX_REFERENCES = 20


def desk_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()


def desk_domain() -> str:
    return desk_address().rpartition("@")[2] or "localhost"


def reply_message_id_new() -> str:
    return f"{OWN_ID_PREFIX}{uuid.uuid4().hex}@{desk_domain()}"


def _subject(message: InboundMessage) -> str:
    subject = " ".join(message.subject.split())
    if not subject:
        return "Your message to our support"
    return subject if subject.lower().startswith(("re:", "aw:", "re :")) else f"Re: {subject}"


def reply_build(message: InboundMessage) -> EmailMessage:
    """The reply as it is sent, rebuilt from the row (nothing about it is stored but its id)."""
    understood = message.understood or {}
    context: dict[str, object] = {
        "form_url": settings.SITE_URL + reverse("compensation:request_form"),
        "created": bool(understood.get("created")),
        "password_change_warning": bool(understood.get("password_change_warning")),
        "other_order_ids": list(understood.get("other_order_ids") or []),
    }
    if message.request is not None:
        context["order_id"] = message.request.order.order_id
        context["result_url"] = settings.SITE_URL + reverse(
            "compensation:request_result", kwargs={"request_id": message.request.pk}
        )
    template = (
        "emails/intake_request_link.txt"
        if message.reply_kind == InboundMessage.Reply.REQUEST_LINK
        else "emails/intake_help.txt"
    )
    with translation.override(settings.LANGUAGE_CODE):
        body = render_to_string(template, context)
    headers = {
        "Message-ID": f"<{message.reply_message_id}>",
        # RFC 3834: an automatic reply; well-behaved responders do not answer it.
        "Auto-Submitted": "auto-replied",
        "X-Auto-Response-Suppress": "All",
        "X-Loop": desk_address(),
    }
    if message.message_id:
        thread = [*message.thread_ids, message.message_id][-MAX_REFERENCES:]
        headers["In-Reply-To"] = f"<{message.message_id}>"
        headers["References"] = " ".join(f"<{i}>" for i in thread)
    return EmailMessage(
        subject=_subject(message),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.reply_to],
        headers=headers,
    )


def reply_send(*, message_pk: int, now: datetime) -> bool:
    """Send the reply of one message if it is due; True when this call sent it."""
    claimed = (
        InboundMessage.objects.filter(pk=message_pk, reply_sent_at__isnull=True)
        .exclude(reply_kind="")
        .filter(Q(reply_attempted_at__isnull=True) | Q(reply_attempted_at__lt=now - SEND_LEASE))
        .update(reply_attempted_at=now)
    )
    if not claimed:
        return False
    message = InboundMessage.objects.select_related("request__order").get(pk=message_pk)
    try:
        reply_build(message).send()
    except Exception:
        # Released at once: the next poll tries again.
        InboundMessage.objects.filter(pk=message_pk).update(reply_attempted_at=None)
        log.exception("reply to inbound message %s could not be sent", message_pk)
        raise
    with transaction.atomic():
        InboundMessage.objects.filter(pk=message_pk).update(reply_sent_at=now)
        inbound_reply_sent_event(message=message, now=now)
    return True


def replies_send_due(*, now: datetime, limit: int = 100) -> int:
    """Send every reply whose send task was lost or failed (a killed worker, a mail server down)."""
    due = list(
        InboundMessage.objects.filter(reply_sent_at__isnull=True)
        .exclude(reply_kind="")
        .filter(Q(reply_attempted_at__isnull=True) | Q(reply_attempted_at__lt=now - SEND_LEASE))
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for message_pk in due:
        try:
            sent += reply_send(message_pk=message_pk, now=now)
        except Exception:  # logged in reply_send; the others still go out
            log.warning("reply %s left for the next poll", message_pk)
    return sent
