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
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from compensation.db_retry import DatabaseUnavailable, with_connection_retry
from compensation.events import email_failed_event, email_sent_event
from compensation.models import Notification
from compensation.services.email_schedule import SEND_BATCH, notifications_queue_send
from compensation.services.notifications import notification_message, notification_messages

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


def _claim(notification_ids: Sequence[int], now: datetime, *, others: int) -> list[tuple[int, int]]:
    """Take the queued, due rows among `notification_ids` for sending, and up to `others` other
    queued, due rows that nobody holds; (id, attempt number) of each, in id order.

    Rows are locked in primary-key order. The named rows are waited for (a change that joins an
    open update row holds its lock: the e-mail then tells that change too); the others are
    skipped when locked. The claim counts the attempt."""
    due = Notification.objects.filter(state=State.QUEUED).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    with transaction.atomic():
        ids = list(
            due.filter(pk__in=list(notification_ids))
            .select_for_update()
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if others > 0:
            ids += list(
                due.exclude(pk__in=list(notification_ids))
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:others]
            )
        if not ids:
            return []
        Notification.objects.filter(pk__in=ids).update(
            state=State.SENDING, sending_since=now, attempts=F("attempts") + 1
        )
        return sorted(Notification.objects.filter(pk__in=ids).values_list("pk", "attempts"))


def notification_send(*, notification_id: int, now: datetime | None = None) -> bool:
    """Send one notification if it is queued and due; True when the mail server accepted it.

    Failures are recorded on the row (retry later, or failed), never raised: the task that runs
    this succeeds either way, and the outbox alone decides what happens next.
    """
    return notifications_send(notification_ids=[notification_id], now=now, others=0) == 1


def notifications_send(
    *, notification_ids: Sequence[int], now: datetime | None = None, others: int | None = None
) -> int:
    """Send these notifications (the ones queued and due) and other due ones, `SEND_BATCH` in
    all unless `others` says how many more, over one connection to the mail server. Returns how
    many the server accepted. Twin tasks find the rows claimed and send nothing twice.

    Each row is claimed (a compare-and-set counting the attempt), composed and sent with no
    transaction open, and marked sent right after the server accepted it; a failure is recorded
    on its row (retry later, or failed), never raised, and the next message gets a fresh
    connection."""
    now = now or timezone.now()
    if others is None:
        others = max(0, SEND_BATCH - len(notification_ids))
    claimed = _claim(notification_ids, now, others=others)
    if not claimed:
        return 0
    rows = Notification.objects.select_related("order", "request").in_bulk(
        [pk for pk, _ in claimed]
    )
    try:
        messages = notification_messages(list(rows.values()), now=now)
    except Exception:  # one row's words cannot be composed: each is composed on its own below
        log.exception("composing %d e-mails together failed; one by one", len(rows))
        messages = {}
    mail = get_connection()
    accepted = 0
    try:
        for pk, attempt in claimed:
            accepted += _send_claimed(
                rows[pk],
                attempt=attempt,
                now=now,
                mail=mail,
                composed=pk in messages,
                message=messages.get(pk),
            )
    finally:
        _close_quietly(mail)
    return accepted


def _close_quietly(mail: BaseEmailBackend) -> None:
    try:
        mail.close()
    except Exception:  # a connection that broke: nothing to tidy up
        log.debug("closing the mail connection failed", exc_info=True)


def _send_claimed(
    notification: Notification,
    *,
    attempt: int,
    now: datetime,
    mail: BaseEmailBackend,
    composed: bool,
    message: EmailMultiAlternatives | None,
) -> int:
    """Send one claimed row's `message` over `mail` (None: an update with nothing new; not
    `composed` with the others: composed here, alone); 1 when the server accepted it."""
    try:
        if not composed:
            message = notification_message(notification, now=now)
        if message is None:  # an update whose changes an earlier e-mail told already
            Notification.objects.filter(pk=notification.pk, state=State.SENDING).update(
                state=State.SKIPPED, sending_since=None
            )
            return 0
        message.extra_headers["Message-ID"] = message_id_for(notification)
        message.connection = mail
        mail.open()  # kept open for the next message (a no-op while it is open)
        message.send()
    except Exception as exc:
        error, permanent = _describe(exc)
        log.warning(
            "e-mail %s (%s) attempt %d failed: %s",
            notification.pk,
            notification.kind,
            attempt,
            error,
        )
        _failed_attempt(
            notification=notification, attempt=attempt, error=error, permanent=permanent
        )
        _close_quietly(mail)  # the next message starts on a fresh connection
        return 0
    try:
        # The server has the message: record that even if the connection dropped meanwhile.
        with_connection_retry(lambda: _mark_sent(notification=notification, now=now))
    except DatabaseUnavailable:
        # Stays "sending": the sweep sends it again later (same Message-ID).
        log.warning("e-mail %s sent but not marked (database unavailable)", notification.pk)
    return 1


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
        notifications_queue_send(due)
    return len(due)
