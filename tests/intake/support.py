"""Helpers of the IMAP tests: an order whose account the status double reports locked, and the
desk's replies among the outgoing mail."""

from __future__ import annotations

from email.message import Message
from typing import Any

from django.core import mail as django_mail

from orders.models import Order

from ..conftest import ProgrammableStatus
from ..factories.orders import OrderFactory, delivered_line


def order_with_locked_account(status_double: ProgrammableStatus, **order: Any) -> Order:
    line = delivered_line(order=OrderFactory.create(**order))
    account = line.accounts.get()
    status_double.set_profile(account.platform, account.username, state="locked")
    return line.order


def replies() -> list[Message]:
    """Replies to customers' mails among the outgoing mail (the desk also sends its usual
    notifications, e.g. the result of the check)."""
    sent = [m.message() for m in django_mail.outbox]
    return [m for m in sent if m["In-Reply-To"] or "desk-reply." in str(m["Message-ID"])]


def body(message: Message) -> str:
    return str(message.get_payload(decode=True).decode())  # type: ignore[union-attr]
