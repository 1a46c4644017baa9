"""django-q2 entry points of e-mail intake: thin, idempotent, ids only."""

from __future__ import annotations

from django.utils import timezone


def poll_mailbox() -> int:
    """Every minute (compensation/schedules.py): handle new mail; returns messages handled."""
    from compensation.intake.poll import mailbox_poll

    return mailbox_poll(now=timezone.now()).handled


def send_reply(message_pk: int) -> bool:
    from compensation.intake.replies import reply_send

    return reply_send(message_pk=int(message_pk), now=timezone.now())
