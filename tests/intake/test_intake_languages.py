"""German, Russian (KOI8-R and Windows-1251) and HTML-only mail understood, end to end: delivered
to the real IMAP server, read by the poll, submitted, answered."""

from __future__ import annotations

import pytest
from django.utils import timezone

from compensation.intake.poll import mailbox_poll
from compensation.models import CompensationRequest, InboundMessage

from ..conftest import ProgrammableStatus
from ..factories.orders import OrderFactory, delivered_line
from .dovecot import TestMailbox
from .mails import legacy_mail, mail

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def orders(status_double: ProgrammableStatus) -> None:
    for order_id, email in [
        ("DE-2041", "kunde@example.de"),
        ("RU-3310", "pokupatel@example.ru"),
        ("RU-3311", "pokupatel2@example.ru"),
        ("H-7788", "html@example.com"),
    ]:
        line = delivered_line(order=OrderFactory.create(order_id=order_id, email=email))
        account = line.accounts.get()
        status_double.set_profile(account.platform, account.username, state="locked")


def understood(sender: str) -> tuple[str, bool, str]:
    message = InboundMessage.objects.get(sender=sender)
    request = CompensationRequest.objects.get(inbound_messages=message)
    return request.order.order_id, request.password_change_warning, request.reason


def test_a_german_mail_is_understood(mailbox: TestMailbox, orders: None) -> None:
    mailbox.deliver(
        mail(
            sender="kunde@example.de",
            subject="Konto gesperrt – Bestellung DE-2041",
            body=(
                "Guten Tag,\n\nmein Instagram-Konto ist seit heute gesperrt. Beim Einloggen kam "
                "die Meldung „Passwort ändern“.\n\nMit freundlichen Grüßen\nJürgen"
            ),
        )
    )

    mailbox_poll(now=timezone.now())

    order_id, warning, reason = understood("kunde@example.de")
    assert (order_id, warning) == ("DE-2041", True)
    assert reason.startswith("Konto gesperrt – Bestellung DE-2041\n\nGuten Tag,")
    assert "Grüßen\nJürgen" in reason
    message = InboundMessage.objects.get(sender="kunde@example.de")
    assert message.understood["warning_sentence"] == (
        "Beim Einloggen kam die Meldung „Passwort ändern“."
    )


@pytest.mark.parametrize(
    ("charset", "transfer", "sender", "order_id"),
    [
        ("koi8-r", "8bit", "pokupatel@example.ru", "RU-3310"),
        ("windows-1251", "base64", "pokupatel2@example.ru", "RU-3311"),
    ],
)
def test_a_russian_mail_in_a_legacy_charset_is_understood(
    mailbox: TestMailbox, orders: None, charset: str, transfer: str, sender: str, order_id: str
) -> None:
    mailbox.deliver(
        legacy_mail(
            sender=sender,
            subject=f"Заказ {order_id}: аккаунт заблокирован",
            body=(
                "Здравствуйте!\nАккаунт заблокирован, войти не получается. "
                "Никакого предупреждения о смене пароля не было.\nСпасибо"
            ),
            charset=charset,
            transfer=transfer,
        )
    )

    mailbox_poll(now=timezone.now())

    found, warning, reason = understood(sender)
    assert (found, warning) == (order_id, False)  # the customer says there was NO warning
    assert reason == (
        f"Заказ {order_id}: аккаунт заблокирован\n\nЗдравствуйте!\nАккаунт заблокирован, войти "
        "не получается. Никакого предупреждения о смене пароля не было.\nСпасибо"
    )


def test_a_russian_mail_saying_it_saw_the_warning(mailbox: TestMailbox, orders: None) -> None:
    mailbox.deliver(
        legacy_mail(
            sender="pokupatel@example.ru",
            subject="RU-3310",
            body="При входе инстаграм просит сменить пароль.",
            charset="koi8-r",
        )
    )

    mailbox_poll(now=timezone.now())

    assert understood("pokupatel@example.ru")[:2] == ("RU-3310", True)


def test_an_html_only_mail_is_read_as_text(mailbox: TestMailbox, orders: None) -> None:
    html = """<html><head><title>t</title><style>p {color: red}</style>
    <script>var order = "H-9999";</script></head>
    <body><div dir="ltr"><p>Hi,</p><p>my account from order <b>H-7788</b> is&nbsp;suspended.</p>
    <div class="gmail_quote">On Mon, support wrote:<blockquote>order H-1111</blockquote></div>
    </div></body></html>"""
    mailbox.deliver(mail(sender="html@example.com", subject="Help", html=html))

    mailbox_poll(now=timezone.now())

    order_id, warning, reason = understood("html@example.com")
    assert (order_id, warning) == ("H-7788", False)
    assert reason == "Help\n\nHi,\n\nmy account from order H-7788 is suspended."
    assert InboundMessage.objects.get(sender="html@example.com").understood["candidates"] == [
        "H-7788",
        "7788",
    ]
