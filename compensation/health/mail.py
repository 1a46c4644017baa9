"""E-mail backend that counts sent and failed messages for /metrics and delegates the sending to
the backend `EMAIL_URL` chose (settings.EMAIL_DELIVERY_BACKEND): SMTP, file, console…"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from compensation.health.counters import emails_observed


class CountingEmailBackend(BaseEmailBackend):
    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        self.inner = get_connection(
            settings.EMAIL_DELIVERY_BACKEND, fail_silently=fail_silently, **kwargs
        )

    def open(self) -> bool | None:
        return self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        messages = list(email_messages)
        if not messages:
            return 0
        try:
            sent = int(self.inner.send_messages(messages) or 0)
        except Exception:
            emails_observed(sent=0, failed=len(messages))
            raise
        emails_observed(sent=sent, failed=len(messages) - sent)
        return sent
