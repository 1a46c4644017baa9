"""Build customer mails as raw bytes, as a mail client would send them."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


def new_message_id() -> str:
    return make_msgid(idstring=uuid.uuid4().hex[:8], domain="customer.test")


def mail(
    *,
    sender: str,
    subject: str,
    body: str = "",
    html: str | None = None,
    message_id: str | None = "new",
    headers: dict[str, str] | None = None,
    attachment: bytes | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer <{sender}>"
    msg["To"] = "support@shop.test"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    if message_id == "new":
        msg["Message-ID"] = new_message_id()
    elif message_id:
        msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    if html is not None and not body:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="image", subtype="png", filename="screen.png")
    return msg.as_bytes()


def legacy_mail(
    *, sender: str, subject: str, body: str, charset: str, transfer: str = "8bit"
) -> bytes:
    """A single-part text mail in a legacy charset (subject as an RFC 2047 encoded word), the way
    older Russian or German mail clients still send it."""
    encoded_subject = Header(subject, charset).encode()
    payload = body.encode(charset)
    if transfer == "base64":
        payload = base64.encodebytes(payload)
    head = (
        f"From: {sender}\r\n"
        "To: support@shop.test\r\n"
        f"Subject: {encoded_subject}\r\n"
        f"Message-ID: {new_message_id()}\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: text/plain; charset="{charset}"\r\n'
        f"Content-Transfer-Encoding: {transfer}\r\n\r\n"
    )
    return head.encode("ascii") + payload.replace(b"\n", b"\r\n")
