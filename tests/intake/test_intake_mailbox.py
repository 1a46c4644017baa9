"""Requests by e-mail against a real IMAP server (Dovecot on 127.0.0.1, see dovecot.py).

Mail is delivered to the support mailbox with IMAP APPEND, the poll reads it over IMAP, requests
go through the form's service and the status double (a real HTTP server), replies are captured
by Django's locmem e-mail backend.
"""

from __future__ import annotations

import pydoc
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from compensation.events import CompensationEvent
from compensation.intake.imap import HANDLED_KEYWORD
from compensation.intake.poll import PollResult, mailbox_poll
from compensation.models import CompensationRequest, InboundMessage
from inventory.models import Event

from ..conftest import ProgrammableStatus
from .dovecot import TestMailbox
from .mails import mail, new_message_id
from .support import body, order_with_locked_account, replies

# Real commits: the reply and the status checks are queued on commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

Outcome = InboundMessage.Outcome


def test_a_customer_mail_creates_a_request_and_gets_a_threaded_reply_with_the_link(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order = order_with_locked_account(status_double, order_id="A1001", email="Buyer@Example.com")
    message_id = new_message_id()
    earlier = new_message_id()
    mailbox.deliver(
        mail(
            sender="buyer@example.com",
            subject="Problem with my order a1001",
            body="Hello, the Instagram account I bought is locked since yesterday.\nThanks, Ann",
            message_id=message_id,
            headers={"References": earlier, "Reply-To": "someone-else@example.net"},
        )
    )

    result = mailbox_poll(now=timezone.now())

    assert result == PollResult(read=1, handled=1, replies_sent=0)  # sent at commit already
    request = CompensationRequest.objects.get()
    assert (request.order_id, request.email, request.password_change_warning) == (
        order.pk,
        "buyer@example.com",
        False,
    )
    assert request.reason == (
        "Problem with my order a1001\n\n"
        "Hello, the Instagram account I bought is locked since yesterday.\nThanks, Ann"
    )
    inbound = InboundMessage.objects.get()
    assert (inbound.outcome, inbound.request_id, inbound.sender) == (
        Outcome.REQUEST,
        request.pk,
        "buyer@example.com",
    )
    assert inbound.needs_attention is False
    assert inbound.understood["order_id"] == "A1001"
    assert inbound.reply_sent_at is not None

    [reply] = replies()
    assert reply["To"] == "buyer@example.com"  # the From address, never Reply-To
    assert reply["Subject"] == "Re: Problem with my order a1001"
    assert reply["In-Reply-To"] == message_id
    assert reply["References"] == f"{earlier} {message_id}"
    assert reply["Message-ID"] == f"<{inbound.reply_message_id}>"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert f"https://shop.test/requests/{request.pk}/" in body(reply)
    assert "registered your compensation request for order A1001" in body(reply)
    assert mailbox.flags() == [{HANDLED_KEYWORD, "\\Seen"}]
    assert Event.objects.filter(
        kind=CompensationEvent.INBOUND_EMAIL_HANDLED, request_id=request.pk, order_id=order.pk
    ).exists()

    # The next poll finds nothing new: no second request, no second reply.
    assert mailbox_poll(now=timezone.now()) == PollResult()
    assert CompensationRequest.objects.count() == 1
    assert len(replies()) == 1


def test_a_mail_without_an_order_id_gets_the_help_reply(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order_with_locked_account(status_double, email="buyer@example.com")
    message_id = new_message_id()
    mailbox.deliver(
        mail(
            sender="buyer@example.com",
            subject="account locked",
            body="My account is locked, please help!",
            message_id=message_id,
        )
    )

    mailbox_poll(now=timezone.now())

    assert CompensationRequest.objects.count() == 0
    inbound = InboundMessage.objects.get()
    assert (inbound.outcome, inbound.needs_attention, inbound.request) == (
        Outcome.NOT_UNDERSTOOD,
        True,
        None,
    )
    [reply] = replies()
    assert (reply["To"], reply["In-Reply-To"]) == ("buyer@example.com", message_id)
    text = body(reply)
    assert "your order number, exactly as in your order confirmation" in text
    assert "https://shop.test/" in text
    assert "/requests/" not in text
    assert mailbox.flags() == [{HANDLED_KEYWORD, "\\Seen"}]


def test_no_such_order_and_a_wrong_e_mail_get_the_same_reply(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="owner@example.com")
    mailbox.deliver(mail(sender="owner@example.com", subject="Order A9999", body="locked"))
    mailbox.deliver(mail(sender="other@example.com", subject="Order A1001", body="locked"))
    mailbox.deliver(mail(sender="other@example.com", subject="help", body="no number here"))

    mailbox_poll(now=timezone.now())

    assert CompensationRequest.objects.count() == 0
    sent = replies()
    assert len(sent) == 3
    assert body(sent[0]) == body(sent[1]) == body(sent[2])
    assert (
        list(InboundMessage.objects.values_list("outcome", flat=True))
        == [Outcome.NOT_UNDERSTOOD] * 3
    )


AUTOMATIC_MAIL = [
    # (extra headers, sender, why it is not answered)
    ({"Auto-Submitted": "auto-replied"}, "buyer@example.com", "auto_submitted"),
    ({"Auto-Submitted": "auto-generated; x=y"}, "buyer@example.com", "auto_submitted"),
    ({"Precedence": "bulk"}, "buyer@example.com", "precedence"),
    ({"Precedence": "junk"}, "buyer@example.com", "precedence"),
    ({"Precedence": "list"}, "buyer@example.com", "precedence"),
    ({"X-Autoreply": "yes"}, "buyer@example.com", "auto_submitted"),
    ({"Return-Path": "<>"}, "buyer@example.com", "bounce"),
    ({}, "MAILER-DAEMON@example.com", "bounce"),
    ({}, "Support@Shop.test", "own_address"),
    ({"X-Loop": "support@shop.test"}, "buyer@example.com", "loop"),
    ({"List-Id": "<news.example.com>"}, "buyer@example.com", "mailing_list"),
]


def test_automatic_mail_gets_nothing(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    """An out-of-office answer naming a real order of its sender: no request, no reply."""
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    for headers, sender, _reason in AUTOMATIC_MAIL:
        raw = mail(
            sender=sender, subject="Out of office: A1001", body="I am away.", headers=headers
        )
        mailbox.deliver(raw)

    assert mailbox_poll(now=timezone.now()).handled == len(AUTOMATIC_MAIL)

    assert CompensationRequest.objects.count() == 0
    assert django_mail.outbox == []
    rows = InboundMessage.objects.order_by("id").values_list(
        "outcome", "skip_reason", "reply_kind", "needs_attention"
    )
    assert list(rows) == [(Outcome.IGNORED, reason, "", False) for _h, _s, reason in AUTOMATIC_MAIL]
    assert mailbox.flags() == [{HANDLED_KEYWORD, "\\Seen"}] * len(AUTOMATIC_MAIL)


def test_a_delivery_report_gets_nothing(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    report = (
        b"From: buyer@example.com\r\nTo: support@shop.test\r\nSubject: Undelivered: A1001\r\n"
        b"Message-ID: <report-1@example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nOrder A1001 could not be delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n"
    )
    mailbox.deliver(report)

    mailbox_poll(now=timezone.now())

    assert (CompensationRequest.objects.count(), django_mail.outbox) == (0, [])
    assert InboundMessage.objects.get().skip_reason == "bounce"


def test_the_same_message_twice_is_handled_once(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    raw = mail(sender="buyer@example.com", subject="A1001 locked", body="locked")
    mailbox.deliver(raw)
    mailbox.deliver(raw)  # e.g. sent to two addresses that both land in this mailbox

    assert mailbox_poll(now=timezone.now()).handled == 2

    assert CompensationRequest.objects.count() == 1
    assert InboundMessage.objects.count() == 1
    assert len(replies()) == 1
    assert mailbox.flags() == [{HANDLED_KEYWORD, "\\Seen"}] * 2


def test_a_message_without_message_id_is_recognised_by_its_headers(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    raw = mail(sender="buyer@example.com", subject="A1001 locked", body="x", message_id=None)
    mailbox.deliver(raw)
    mailbox.deliver(raw)

    mailbox_poll(now=timezone.now())

    inbound = InboundMessage.objects.get()
    assert inbound.message_key.startswith("sha256:") and len(inbound.message_key) == 71
    assert inbound.message_id == ""
    assert CompensationRequest.objects.count() == 1
    [reply] = replies()
    assert reply["In-Reply-To"] is None  # nothing to thread on; still answered


def test_a_request_counts_from_the_moment_the_mailbox_received_the_mail(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    arrived = (timezone.now() - timedelta(hours=5)).replace(microsecond=0)
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    mailbox.deliver(
        mail(sender="buyer@example.com", subject="A1001", body="locked"), arrived=arrived
    )

    mailbox_poll(now=timezone.now())

    assert CompensationRequest.objects.get().received_at == arrived
    assert InboundMessage.objects.get().arrived_at == arrived


def test_mail_older_than_the_lookback_is_never_read(
    mailbox: TestMailbox, status_double: ProgrammableStatus, settings: Any
) -> None:
    settings.IMAP_LOOKBACK_DAYS = 2
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    old = timezone.now() - timedelta(days=4)
    mailbox.deliver(mail(sender="buyer@example.com", subject="A1001", body="old"), arrived=old)

    assert mailbox_poll(now=timezone.now()) == PollResult()
    assert InboundMessage.objects.count() == 0
    assert mailbox.flags() == [set()]


def test_the_sender_is_rate_limited_like_the_form(
    mailbox: TestMailbox, status_double: ProgrammableStatus, settings: Any
) -> None:
    settings.COMPENSATION_RATE_LIMIT = "2/m"
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    for n in range(3):
        mailbox.deliver(mail(sender="buyer@example.com", subject=f"try {n}", body="no order id"))
    mailbox.deliver(mail(sender="someone@example.com", subject="hello", body="no order id"))

    mailbox_poll(now=timezone.now())

    outcomes = list(InboundMessage.objects.order_by("id").values_list("sender", "outcome"))
    assert outcomes == [
        ("buyer@example.com", Outcome.NOT_UNDERSTOOD),
        ("buyer@example.com", Outcome.NOT_UNDERSTOOD),
        ("buyer@example.com", Outcome.RATE_LIMITED),
        ("someone@example.com", Outcome.NOT_UNDERSTOOD),  # the limit is per sender
    ]
    assert len(replies()) == 3
    assert InboundMessage.objects.get(outcome=Outcome.RATE_LIMITED).needs_attention is True


def test_a_big_attachment_is_neither_read_nor_stored(
    mailbox: TestMailbox, status_double: ProgrammableStatus, settings: Any
) -> None:
    settings.IMAP_MAX_MESSAGE_BYTES = 64 * 1024
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    screenshot = bytes(range(256)) * 8 * 1024  # 2 MiB
    mailbox.deliver(
        mail(
            sender="buyer@example.com",
            subject="A1001",
            body="Locked, screenshot attached.",
            attachment=screenshot,
        )
    )

    mailbox_poll(now=timezone.now())

    inbound = InboundMessage.objects.get()
    assert inbound.truncated is True
    assert inbound.size > 2 * 1024 * 1024
    assert (inbound.attachments, inbound.text) == (1, "Locked, screenshot attached.")
    assert inbound.outcome == Outcome.REQUEST


def test_a_long_text_is_stored_truncated(
    mailbox: TestMailbox, status_double: ProgrammableStatus, settings: Any
) -> None:
    settings.IMAP_MAX_TEXT_CHARS = 100
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    mailbox.deliver(mail(sender="buyer@example.com", subject="A1001", body="word " * 1000))

    mailbox_poll(now=timezone.now())

    assert len(InboundMessage.objects.get().text) == 100
    assert len(CompensationRequest.objects.get().reason) <= 2000


def test_without_imap_url_the_poll_does_nothing(settings: Any) -> None:
    settings.IMAP_URL = ""
    assert mailbox_poll(now=timezone.now()) == PollResult()


def test_setup_schedules_installs_the_poll_that_reads_the_mailbox(
    mailbox: TestMailbox, status_double: ProgrammableStatus
) -> None:
    order_with_locked_account(status_double, order_id="A1001", email="buyer@example.com")
    mailbox.deliver(mail(sender="buyer@example.com", subject="A1001", body="locked"))
    call_command("setup_schedules")

    schedule = Schedule.objects.get(name="poll-mailbox")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    task = pydoc.locate(schedule.func)  # how django-q2 resolves it
    assert callable(task)

    assert task() == 1
    assert CompensationRequest.objects.count() == 1
