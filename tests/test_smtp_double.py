"""The SMTP test double itself: a real socket server that accepts, stalls, drops and refuses."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage

import pytest

from tests.doubles.smtp_server import Accept, Drop, Reply, SmtpDouble, Stall


def _message(message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "desk@example.com"
    message["To"] = "customer@example.com"
    message["Subject"] = "hello"
    message["Message-ID"] = message_id
    message.set_content("line one\n.starts with a dot\n")
    return message


def _send(smtp: SmtpDouble, message_id: str, timeout: float = 5.0) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        client.send_message(_message(message_id))


def test_accepts_and_records_the_message_with_its_message_id() -> None:
    with SmtpDouble() as smtp:
        _send(smtp, "<one@desk>")
        _send(smtp, "<one@desk>")
        assert smtp.message_ids() == ["<one@desk>", "<one@desk>"]
        assert smtp.duplicates() == 1
        assert smtp.accepted[0].recipients == ("customer@example.com",)
        assert ".starts with a dot" in smtp.accepted[0].text  # dot-stuffing undone
        assert smtp.outcomes() == {"quit": 2}


@pytest.mark.parametrize(
    ("behaviour", "error", "outcome"),
    [
        (Reply(451), smtplib.SMTPDataError, "replied:451"),
        (Reply(550, at="rcpt"), smtplib.SMTPRecipientsRefused, "replied:550"),
        (Drop("greeting"), smtplib.SMTPServerDisconnected, "dropped:greeting"),
        (Drop("data"), smtplib.SMTPServerDisconnected, "dropped:data"),
        (Drop("after_data"), smtplib.SMTPServerDisconnected, "dropped:after_data"),
    ],
)
def test_refuses_or_drops_as_planned_then_accepts(
    behaviour: Reply | Drop, error: type[Exception], outcome: str
) -> None:
    with SmtpDouble() as smtp:
        smtp.plan = [behaviour]
        with pytest.raises(error):
            _send(smtp, "<two@desk>")
        assert smtp.accepted == []
        assert smtp.wait_for_sessions(1, timeout=5)
        _send(smtp, "<two@desk>")
        assert smtp.message_ids() == ["<two@desk>"]
        assert smtp.sessions[0].outcome == outcome
    if isinstance(behaviour, Drop) and behaviour.at == "after_data":
        assert [m.message_id for m in smtp.unacknowledged] == ["<two@desk>"]


def test_a_stalled_greeting_times_the_client_out() -> None:
    with SmtpDouble() as smtp:
        smtp.plan = [Stall(3, then=Accept())]
        started = time.monotonic()
        with pytest.raises((TimeoutError, smtplib.SMTPServerDisconnected)):
            _send(smtp, "<three@desk>", timeout=0.3)
        assert time.monotonic() - started < 2
        assert smtp.accepted == []
