"""Follow-ups and failures against the real IMAP server: answers to the desk's own mail, a mail
server refusing the reply, a mail that cannot be processed."""

from __future__ import annotations

from email.utils import make_msgid
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.utils import timezone

import compensation.intake.service as intake_service
from compensation.intake.imap import HANDLED_KEYWORD
from compensation.intake.poll import mailbox_poll
from compensation.models import CompensationRequest, InboundMessage

from ..conftest import ProgrammableStatus
from .dovecot import TestMailbox
from .mails import mail, new_message_id
from .support import body, order_with_locked_account, replies

# Real commits: the reply and the status checks are queued on commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

Outcome = InboundMessage.Outcome


def test_a_reply_to_the_help_mail_with_the_order_id_creates_the_request(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    first = new_message_id()
    mailbox.deliver(
        mail(sender="buyer@example.com", subject="locked", body="help", message_id=first)
    )
    mailbox_poll(now=timezone.now())
    help_reply = InboundMessage.objects.get()
    django_mail.outbox.clear()

    mailbox.deliver(
        mail(
            sender="buyer@example.com",
            subject="Re: locked",
            body="It is order A1001.\n\n> Please reply to this e-mail with your order number",
            headers={
                "In-Reply-To": f"<{help_reply.reply_message_id}>",
                "References": f"{first} <{help_reply.reply_message_id}>",
            },
        )
    )
    mailbox_poll(now=timezone.now())

    assert CompensationRequest.objects.get().order.order_id == "A1001"
    [reply] = replies()
    assert "/requests/" in body(reply)
    assert reply["References"].split() == [
        first,
        f"<{help_reply.reply_message_id}>",
        reply["In-Reply-To"],
    ]


def test_a_follow_up_to_the_link_reply_goes_to_a_person(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    mailbox.deliver(mail(sender="buyer@example.com", subject="A1001 locked", body="locked"))
    mailbox_poll(now=timezone.now())
    answered = InboundMessage.objects.get()
    django_mail.outbox.clear()

    mailbox.deliver(
        mail(
            sender="buyer@example.com",
            subject="Re: A1001 locked",
            body="Why was it rejected? I never saw a change password warning.",
            headers={"In-Reply-To": f"<{answered.reply_message_id}>"},
        )
    )
    mailbox_poll(now=timezone.now())

    follow_up = InboundMessage.objects.exclude(pk=answered.pk).get()
    assert (follow_up.outcome, follow_up.skip_reason, follow_up.needs_attention) == (
        Outcome.NEEDS_PERSON,
        "thread_answered",
        True,
    )
    assert CompensationRequest.objects.count() == 1
    assert django_mail.outbox == []


def test_a_reply_to_a_notification_e_mail_goes_to_a_person(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    notification_id = make_msgid(domain=DNS_NAME)  # how the desk's other e-mails are made
    mailbox.deliver(
        mail(
            sender="buyer@example.com",
            subject="Re: We received your compensation request for order A1001",
            body="Why was my account rejected?",
            headers={"In-Reply-To": notification_id, "References": notification_id},
        )
    )

    mailbox_poll(now=timezone.now())

    inbound = InboundMessage.objects.get()
    assert (inbound.outcome, inbound.needs_attention) == (Outcome.NEEDS_PERSON, True)
    assert (CompensationRequest.objects.count(), django_mail.outbox) == (0, [])


def test_a_reply_the_mail_server_refused_is_sent_by_the_next_poll(
    mailbox: TestMailbox, status_double: ProgrammableStatus, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    mailbox.deliver(mail(sender="buyer@example.com", subject="A1001", body="locked"))
    original_send = EmailMessage.send
    server = {"down": True}

    def refuse_replies(self: EmailMessage, fail_silently: bool = False) -> int:
        if "desk-reply." in str(self.extra_headers.get("Message-ID")) and server["down"]:
            raise ConnectionRefusedError("SMTP server down")
        return original_send(self, fail_silently)

    monkeypatch.setattr(EmailMessage, "send", refuse_replies)

    mailbox_poll(now=timezone.now())  # the reply fails at commit and again in the sweep
    inbound = InboundMessage.objects.get()
    assert (inbound.reply_sent_at, inbound.reply_attempted_at, replies()) == (None, None, [])
    assert inbound.outcome == Outcome.REQUEST
    server["down"] = False

    assert mailbox_poll(now=timezone.now()).replies_sent == 1
    assert len(replies()) == 1
    assert CompensationRequest.objects.count() == 1


def test_a_message_that_keeps_failing_is_left_for_a_person_after_three_polls(
    mailbox: TestMailbox, status_double: ProgrammableStatus, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    mailbox.deliver(mail(sender="buyer@example.com", subject="A1001", body="locked"))

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(intake_service, "request_submit", broken)

    for attempt in (1, 2):
        assert mailbox_poll(now=timezone.now()).handled == 0
        inbound = InboundMessage.objects.get()
        assert (inbound.outcome, inbound.handle_attempts) == (Outcome.RECEIVED, attempt)
        assert mailbox.flags() == [set()]  # tried again by the next poll

    assert mailbox_poll(now=timezone.now()).handled == 1
    inbound = InboundMessage.objects.get()
    assert (inbound.outcome, inbound.needs_attention, inbound.reply_kind) == (
        Outcome.FAILED,
        True,
        "",
    )
    assert (CompensationRequest.objects.count(), replies()) == (0, [])
    assert mailbox.flags() == [{HANDLED_KEYWORD, "\\Seen"}]
