"""One poll of the support mailbox: read new mail, record and handle each message, mark it.

Order matters for at-least-once safety: the message is recorded, then handled (one transaction),
and only then marked in the mailbox. A poll killed anywhere repeats the unmarked messages, and the
row makes the repeat harmless. Replies whose sending was lost are sent at the end of every poll.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from compensation.intake.imap import imap_config, mailbox_open
from compensation.intake.parsing import parse_message
from compensation.intake.replies import replies_send_due
from compensation.intake.service import message_handle, message_handle_failed, message_record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollResult:
    read: int = 0
    handled: int = 0
    replies_sent: int = 0


def mailbox_poll(*, now: datetime) -> PollResult:
    """Handle the new mail of the support mailbox (IMAP_URL; unset: does nothing)."""
    if not settings.IMAP_URL:
        return PollResult()
    config = imap_config(settings.IMAP_URL)
    since = (now - timedelta(days=settings.IMAP_LOOKBACK_DAYS)).date()
    read = handled = 0
    with mailbox_open(config, timeout=settings.IMAP_TIMEOUT) as mailbox:
        for uid in mailbox.new_uids(since=since, limit=settings.IMAP_BATCH_SIZE):
            fetched = mailbox.fetch(uid, max_bytes=settings.IMAP_MAX_MESSAGE_BYTES)
            if fetched is None:
                continue
            read += 1
            parsed = parse_message(fetched.raw, size=fetched.size, truncated=fetched.truncated)
            message = message_record(parsed=parsed, arrived_at=fetched.arrived_at, now=now)
            try:
                message_handle(message_pk=message.pk, now=now)
            except Exception:
                log.exception("inbound message %s (uid %s) could not be handled", message.pk, uid)
                if not message_handle_failed(message_pk=message.pk, now=now):
                    continue  # left unmarked: the next poll tries again
            mailbox.mark_handled(uid)
            handled += 1
    return PollResult(read=read, handled=handled, replies_sent=replies_send_due(now=now))
