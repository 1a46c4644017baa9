"""The e-mail outbox: every customer e-mail is delivered, or a person sees that it failed.

A `Notification` moves queued -> sending -> sent (or skipped: an update with nothing new to tell
when it was composed). A queued row is not claimed before its `next_attempt_at` (a scheduled send
or a back-off). `notification_send` claims a queued row (a
compare-and-set, in its own short transaction, counting the attempt), talks to the mail server
with no transaction or lock held, and marks the row sent only after the server accepted the
message. So:

- a worker killed mid-send, or a database that drops before the row is marked, leaves the row
  `sending`; the sweep (`notifications_send_due`, every minute) takes it back after
  EMAIL_SENDING_STALE_SECONDS and sends it again. If the server had in fact accepted the first
  copy, the customer gets the same message twice with the same `Message-ID` (derived from the
  notification), which mail clients recognise as one message;
- a temporary failure (timeout, dropped connection, a 4xx answer) puts the row back in the queue
  with a back-off (EMAIL_RETRY_DELAYS); after the last attempt, or at once on a permanent 5xx
  answer, it is `failed`: an `email_failed` event is recorded and the request shows
  "E-mail failed" to staff. Nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from compensation import tasks
from compensation.db_retry import DatabaseUnavailable, with_connection_retry
from compensation.events import email_failed_event, email_sent_event
from compensation.models import Notification
from compensation.queueing import enqueue_on_commit
from compensation.services.notifications import notification_message

log = logging.getLogger(__name__)

# A notification with no send task queued (lost with a broker or a crash) is sent by the sweep
# once it is this old.
UNQUEUED_GRACE = timedelta(seconds=60)
SWEEP_LIMIT = 500

State = Notification.State


def message_id_for(notification: Notification) -> str:
    """The same Message-ID for every copy of one notification, so a duplicate is recognisable."""
    digest = hashlib.sha256(notification.key.encode()).hexdigest()[:16]
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<notification-{notification.pk}.{digest}@{domain}>"


class _Permanent(Exception):
    """The mail server refused the message for good (5xx): retrying cannot help."""


def _describe(exc: BaseException) -> tuple[str, bool]:
    """(what went wrong, permanent?) — SMTP code and text, or the exception's name."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(code >= 500 for code in codes)
        return f"recipient refused ({', '.join(map(str, codes))})", permanent
    if isinstance(exc, smtplib.SMTPResponseException):
        raw = exc.smtp_error
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return f"SMTP {exc.smtp_code} {text}"[:300], exc.smtp_code >= 500
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {detail}"[:300].rstrip(": "), False


def _claim(notification_id: int, now: datetime) -> int | None:
    """Take a queued, due row for sending; the attempt number, or None if it is not ours."""
    claimed = (
        Notification.objects.filter(pk=notification_id, state=State.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(state=State.SENDING, sending_since=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return Notification.objects.values_list("attempts", flat=True).get(pk=notification_id)


def notification_send(*, notification_id: int, now: datetime | None = None) -> bool:
    """Send one notification if it is queued and due; True when the mail server accepted it.

    Failures are recorded on the row (retry later, or failed), never raised: the task that runs
    this succeeds either way, and the outbox alone decides what happens next.
    """
    now = now or timezone.now()
    attempt = _claim(notification_id, now)
    if attempt is None:
        return False
    notification = Notification.objects.select_related("order", "request").get(pk=notification_id)
    try:
        message = notification_message(notification, now=now)
        if message is None:  # an update whose changes an earlier e-mail told already
            Notification.objects.filter(pk=notification_id, state=State.SENDING).update(
                state=State.SKIPPED, sending_since=None
            )
            return False
        message.extra_headers["Message-ID"] = message_id_for(notification)
        message.send()
    except Exception as exc:
        error, permanent = _describe(exc)
        log.warning(
            "e-mail %s (%s) attempt %d failed: %s",
            notification_id,
            notification.kind,
            attempt,
            error,
        )
        _failed_attempt(
            notification=notification, attempt=attempt, error=error, permanent=permanent
        )
        return False
    try:
        # The server has the message: record that even if the connection dropped meanwhile.
        with_connection_retry(lambda: _mark_sent(notification=notification, now=now))
    except DatabaseUnavailable:
        # Stays "sending": the sweep sends it again later (same Message-ID).
        log.warning("e-mail %s sent but not marked (database unavailable)", notification_id)
    return True


def _mark_sent(*, notification: Notification, now: datetime) -> None:
    with transaction.atomic():
        # Not only from "sending": a copy the sweep took back is still the same e-mail, sent.
        updated = Notification.objects.filter(
            pk=notification.pk, state__in=[State.SENDING, State.QUEUED]
        ).update(state=State.SENT, sent_at=now, sending_since=None, next_attempt_at=None)
        if not updated:
            return
        email_sent_event(
            notification=notification,
            batch_id=None,
            message_id=message_id_for(notification),
            now=now,
        )


def _failed_attempt(
    *, notification: Notification, attempt: int, error: str, permanent: bool
) -> None:
    now = timezone.now()
    delays = settings.EMAIL_RETRY_DELAYS
    with transaction.atomic():
        mine = Notification.objects.filter(
            pk=notification.pk, state=State.SENDING, attempts=attempt
        )
        if permanent or attempt > len(delays):
            if mine.update(state=State.FAILED, failed_at=now, sending_since=None, last_error=error):
                _record_failure(notification=notification, attempt=attempt, error=error, at=now)
            return
        mine.update(
            state=State.QUEUED,
            sending_since=None,
            next_attempt_at=now + timedelta(seconds=delays[attempt - 1]),
            last_error=error,
        )


def _record_failure(*, notification: Notification, attempt: int, error: str, at: datetime) -> None:
    email_failed_event(
        notification=notification,
        batch_id=None,
        attempts=attempt,
        error=error,
        now=at,
    )


def notifications_send_due(*, now: datetime) -> int:
    """The sweep (every minute): take back sends interrupted long ago, then queue every e-mail
    that is due (a retry whose back-off elapsed, or one whose send task was lost). Returns the
    number queued."""
    stale = now - timedelta(seconds=settings.EMAIL_SENDING_STALE_SECONDS)
    limit = len(settings.EMAIL_RETRY_DELAYS) + 1
    with transaction.atomic():
        interrupted = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(state=State.SENDING, sending_since__lte=stale)
            .order_by("id")[:SWEEP_LIMIT]
        )
        for row in interrupted:
            error = "interrupted while sending (worker stopped or database dropped)"
            if row.attempts >= limit:
                Notification.objects.filter(pk=row.pk).update(
                    state=State.FAILED, failed_at=now, sending_since=None, last_error=error
                )
                _record_failure(notification=row, attempt=row.attempts, error=error, at=now)
            else:
                Notification.objects.filter(pk=row.pk).update(
                    state=State.QUEUED, sending_since=None, next_attempt_at=None, last_error=error
                )
        taken_back = [row.pk for row in interrupted if row.attempts < limit]
        due = list(
            Notification.objects.filter(state=State.QUEUED)
            .filter(
                Q(next_attempt_at__lte=now)
                | Q(next_attempt_at__isnull=True, created_at__lte=now - UNQUEUED_GRACE)
                | Q(pk__in=taken_back)
            )
            .order_by("id")
            .values_list("id", flat=True)[:SWEEP_LIMIT]
        )
        for notification_id in due:
            enqueue_on_commit(tasks.send_notification, notification_id)
    return len(due)
