"""The pure parts of e-mail intake: reading a message, deciding whether it may be answered,
understanding what it asks, reading IMAP_URL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from compensation.intake.imap import ImapConfigError, _internal_date, imap_config
from compensation.intake.parsing import (
    follow_up_reason,
    html_to_text,
    own_ids,
    parse_message,
    skip_reason,
)
from compensation.intake.understanding import (
    MAX_REASON,
    order_id_candidates,
    strip_quoted,
    understand,
    warning_sentence,
)

from .mails import legacy_mail, mail

PATTERN = r"[A-Za-z]{0,4}-?\d{3,}"
OWN = {"support@shop.test"}


def raw(head: str, body: bytes) -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body


# --- reading a message ------------------------------------------------------------------------


def test_plain_text_is_preferred_to_its_html_alternative() -> None:
    parsed = parse_message(
        mail(sender="a@example.com", subject="s", body="plain words", html="<p>html words</p>")
    )
    assert (parsed.text, parsed.attachments, parsed.sender) == ("plain words", 0, "a@example.com")


def test_a_declared_charset_that_is_wrong_falls_back_without_losing_the_mail() -> None:
    message = raw(
        "From: a@example.com\nMessage-ID: <x1@example.com>\n"
        'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: 8bit',
        "Grüße aus Köln".encode("cp1252"),
    )
    assert parse_message(message).text == "Grüße aus Köln"  # not UTF-8 after all: Windows-1252


def test_an_unknown_charset_is_read_as_utf8() -> None:
    message = raw(
        "From: a@example.com\nMessage-ID: <x2@example.com>\n"
        'Content-Type: text/plain; charset="x-no-such-charset"',
        "Заказ A1001".encode(),
    )
    assert parse_message(message).text == "Заказ A1001"


def test_legacy_charsets_in_subject_and_body() -> None:
    for charset in ("koi8-r", "windows-1251", "iso-8859-5"):
        parsed = parse_message(
            legacy_mail(sender="r@example.ru", subject="Тема", body="Текст письма", charset=charset)
        )
        assert (parsed.subject, parsed.text) == ("Тема", "Текст письма")


def test_undecodable_header_bytes_become_replacement_marks_and_nul_is_dropped() -> None:
    message = b"From: a@example.com\r\nSubject: caf\xe9\r\n\r\nbody\x00text"
    parsed = parse_message(message)
    assert (parsed.subject, parsed.text) == ("caf\ufffd", "bodytext")


def test_html_scripts_styles_and_quotes_are_dropped() -> None:
    html = (
        "<style>.a{}</style><script>alert(1)</script><p>One&amp;two</p><br>three"
        "<blockquote>quoted <blockquote>deeper</blockquote> still quoted</blockquote>"
        "<ul><li>item</li></ul><div class='gmail_quote'><div>old</div></div>after"
    )
    assert html_to_text(html) == "One&two\n\nthree\n\n- item\n\nafter"


def test_attachments_are_counted_and_a_cut_message_still_yields_its_text() -> None:
    message = mail(sender="a@example.com", subject="s", body="the text", attachment=b"\x89" * 50000)
    parsed = parse_message(message[:5000], size=len(message), truncated=True)
    assert (parsed.text, parsed.attachments, parsed.truncated) == ("the text", 1, True)
    assert parsed.size == len(message)


def test_the_message_key_is_the_message_id_or_a_hash_of_the_header_block() -> None:
    with_id = parse_message(raw("From: a@example.com\nMessage-ID: < abc@x.test >", b"x"))
    assert (with_id.message_key, with_id.message_id) == ("abc@x.test", "abc@x.test")

    first = parse_message(raw("From: a@example.com\nSubject: one", b"body 1"))
    same_head = parse_message(raw("From: a@example.com\nSubject: one", b"another body"))
    other = parse_message(raw("From: a@example.com\nSubject: two", b"body 1"))
    assert first.message_key.startswith("sha256:")
    assert first.message_key == same_head.message_key != other.message_key

    long_id = "<" + "x" * 300 + "@example.com>"
    assert parse_message(raw(f"Message-ID: {long_id}", b"")).message_key.startswith("sha256:")


def test_thread_ids_and_date() -> None:
    parsed = parse_message(
        raw(
            "From: a@example.com\nReferences: <r1@x> <r2@x>\nIn-Reply-To: <r2@x>\n"
            "Date: Tue, 3 Nov 2026 10:00:00 +0100",
            b"",
        )
    )
    assert parsed.thread_ids == ["r1@x", "r2@x"]
    assert parsed.sent_at == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    assert parse_message(raw("From: a@example.com\nDate: yesterday", b"")).sent_at is None


# --- mail the desk must not answer ------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        ("From: a@example.com", ""),
        ("From: a@example.com\nAuto-Submitted: no", ""),
        ("From: a@example.com\nAuto-Submitted: auto-replied", "auto_submitted"),
        ("From: a@example.com\nAuto-Submitted: Auto-Generated", "auto_submitted"),
        ("From: a@example.com\nX-Autorespond: yes", "auto_submitted"),
        ("From: a@example.com\nPrecedence: Bulk", "precedence"),
        ("From: a@example.com\nPrecedence: first-class", ""),
        ("From: a@example.com\nList-Unsubscribe: <mailto:u@x>", "mailing_list"),
        ("From: a@example.com\nReturn-Path: <>", "bounce"),
        ("From: a@example.com\nReturn-Path: <a@example.com>", ""),
        ("From: Mailer-Daemon@mx.example.com", "bounce"),
        ("From: Desk <SUPPORT@shop.test>", "own_address"),
        ("From: a@example.com\nX-Loop: support@shop.test", "loop"),
        ("From: a@example.com\nContent-Type: multipart/report; boundary=b", "bounce"),
        ("To: a@example.com", "no_sender"),
    ],
)
def test_skip_reason(head: str, reason: str) -> None:
    assert skip_reason(parse_message(raw(head, b"x")), own_addresses=OWN) == reason


def test_follow_ups_to_the_desks_own_mail_go_to_a_person_except_one_answer_to_the_help() -> None:
    thread = ["c1@gmail.com", "desk-reply.ab@shop.test", "other.ab@shop.test", "n1@web-1.local"]
    own = own_ids(thread, reply_domain="shop.test", app_domain="web-1.local")
    assert own == ["desk-reply.ab@shop.test", "n1@web-1.local"]

    assert follow_up_reason([], help_reply_ids=set()) == ""
    help_id = "desk-reply.ab@shop.test"
    assert follow_up_reason([help_id], help_reply_ids={help_id}) == ""
    assert follow_up_reason([help_id], help_reply_ids=set()) == "thread_answered"
    two = [help_id, "desk-reply.cd@shop.test"]
    assert follow_up_reason(two, help_reply_ids=set(two)) == "thread_answered"


# --- understanding ----------------------------------------------------------------------------


def test_order_id_candidates_in_order_with_tails() -> None:
    assert order_id_candidates(["Order-1234", "also A1001 and 2026"], pattern=PATTERN) == [
        "rder-1234",
        "der-1234",
        "er-1234",
        "r-1234",
        "1234",
        "A1001",
        "1001",
        "2026",
    ]
    assert order_id_candidates(["no numbers, 12 too short"], pattern=PATTERN) == []
    assert order_id_candidates(["#55-12345"], pattern=r"\d{2}-\d{5}") == ["55-12345"]
    many = " ".join(f"N{n:04d}" for n in range(100))
    assert len(order_id_candidates([many], pattern=PATTERN)) == 50


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        ("Instagram asked me to change my password.", True),
        ("When I log in it says: Change Password.", True),
        ("I didn't do anything, but it wants a password change", True),
        ("I did not see any change password warning.", False),
        ("There was no “Change Password” warning", False),
        ("Did you see a change password warning? No", False),
        ("Change password warning: no", False),
        ("I cannot log in at all.", False),
        ("I can't log in, there was no prompt, it just says locked", False),
        ("Beim Login kam die Meldung, ich soll mein Passwort ändern.", True),
        ("Es kam eine Aufforderung zur Passwortänderung", True),
        ("Ändern Sie Ihr Passwort, stand da.", True),
        ("Es gab keine Aufforderung, das Passwort zu ändern.", False),
        ("Инстаграм требует сменить пароль", True),
        ("Было окно «Смена пароля»", True),
        ("Предупреждения о смене пароля не было", False),
        ("Нет, пароль изменить не просили", False),
    ],
)
def test_change_password_wording(text: str, seen: bool) -> None:
    assert bool(warning_sentence(text)) is seen


def test_quoted_text_and_signatures_are_not_the_customers_words() -> None:
    text = (
        "It is order A1001.\n> old quoted A2002\nmore words\n\nOn Mon, 2 Nov, Desk wrote:\n"
        "Please send your order number A3003"
    )
    assert strip_quoted(text) == "It is order A1001.\nmore words"
    assert strip_quoted("hi\n-- \nAnn, Order A4004") == "hi"
    assert strip_quoted("Hallo\nAm 2.11. schrieb Support <s@x>:\n> alt") == "Hallo"
    assert strip_quoted("Привет\nИван Петров написал:\nстарое") == "Привет"


def test_understand_builds_the_reason_from_subject_and_own_words() -> None:
    reading = understand(subject="A1001", text="locked\n> quoted B2002", pattern=PATTERN)
    assert (reading.candidates, reading.reason, reading.password_change_warning) == (
        ["A1001", "1001"],
        "A1001\n\nlocked",
        False,
    )
    assert understand(subject="", text="", pattern=PATTERN).reason == "(e-mail without text)"
    assert len(understand(subject="s", text="x" * 5000, pattern=PATTERN).reason) == MAX_REASON


# --- IMAP_URL ---------------------------------------------------------------------------------


def test_imap_url() -> None:
    plain = imap_config("imap://desk%40shop.test:p%40ss@mail.example.com/Support%20Inbox")
    assert (plain.tls, plain.host, plain.port, plain.username, plain.password, plain.mailbox) == (
        False,
        "mail.example.com",
        143,
        "desk@shop.test",
        "p@ss",
        "Support Inbox",
    )
    secure = imap_config("imaps://u:p@mail.example.com")
    assert (secure.tls, secure.port, secure.mailbox) == (True, 993, "INBOX")
    assert "p@ss" not in repr(plain) and "desk@shop.test" in repr(plain)
    for bad in ("pop3://u:p@h/", "imap://h/INBOX", "imap://u:p@/INBOX"):
        with pytest.raises(ImapConfigError):
            imap_config(bad)


def test_internal_date() -> None:
    prefix = b'1 (UID 7 RFC822.SIZE 10 INTERNALDATE " 3-Nov-2026 10:00:05 -0130" BODY[]<0> {10}'
    expected = datetime(2026, 11, 3, 10, 0, 5, tzinfo=timezone(-timedelta(hours=1, minutes=30)))
    assert _internal_date(prefix) == expected
    assert _internal_date(b"1 (UID 7)") is None


def test_an_invalid_order_id_pattern_stops_the_start() -> None:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL="sqlite:///:memory:",
        ORDER_ID_PATTERN="[A-Z",
    )
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert "ORDER_ID_PATTERN is not a regular expression" in run.stderr
