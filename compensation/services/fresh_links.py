"""The "send me a new link" form's work, done in a task so the web answer is the same — same
work, same time — whether the order exists or not (nobody can probe which orders exist).

At most one link e-mail per order within ORDER_LINK_RESEND_MINUTES: asking again (or a flood of
asks) sends nothing more, so the form cannot be used to bombard a customer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from compensation.models import Notification
from compensation.services.notifications import notify_order_link
from orders.selectors import orders_by_reference


def order_link_request(*, order_id: str, now: datetime) -> bool:
    """E-mail a fresh order-page link to the address on the order; True when one was queued.

    Nothing for an unknown order or when a link e-mail for it was created within the resend
    interval. The order row is locked so two tasks for one order cannot both pass the check.
    """
    order_id = order_id.strip()
    if not order_id:
        return False
    with transaction.atomic():
        order = orders_by_reference(order_id).select_for_update().first()
        if order is None:
            return False
        since = now - timedelta(minutes=settings.ORDER_LINK_RESEND_MINUTES)
        # created_at is the database's clock of the insert; `now` is the task's clock (the same
        # machine), so a link asked for within the interval is found.
        recent = Notification.objects.filter(
            order=order, kind="order_link", created_at__gt=since
        ).exists()
        if recent:
            return False
        return notify_order_link(order=order, now=now) is not None
