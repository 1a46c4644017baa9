"""Reading what the shop sent (the e-mails in `django.core.mail.outbox`)."""

from __future__ import annotations

import re
from datetime import datetime

from django.db.models import Q

from compensation.models import Notification
from compensation.services.outbox import notification_send

ORDER_LINK = re.compile(r"https?://\S+/orders/link/[^/\s]+/")


def link_in(body: object) -> str:
    """The order-page URL in an e-mail body."""
    match = ORDER_LINK.search(str(body))
    assert match is not None, "no order link in the e-mail"
    return match.group(0)


def send_due(*, now: datetime) -> int:
    """What the outbox's minute sweep and its tasks do together, at a chosen moment: send every
    queued e-mail whose time has come (the sweep itself queues tasks that run at the real time)."""
    due = (
        Notification.objects.filter(state=Notification.State.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("id")
        .values_list("id", flat=True)
    )
    return sum(notification_send(notification_id=pk, now=now) for pk in list(due))
