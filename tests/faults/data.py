"""Rows the fault tests start from (committed: other processes read them)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from compensation.models import CompensationRequest, Notification
from compensation.services.notifications import notify
from orders.models import Order


def request_with_notification(index: int, *, kind: str = "sent_to_review") -> Notification:
    order = Order.objects.create(
        order_id=f"F-{index:04d}",
        email=f"customer{index}@example.com",
        placed_at=timezone.now() - timedelta(days=2),
    )
    request = CompensationRequest.objects.create(
        order=order,
        email=order.email,
        reason="locked",
        password_change_warning=False,
        received_at=timezone.now(),
        status="decided",
    )
    notification = notify(kind=kind, key=f"{kind}:{request.pk}", order=order, request=request)
    assert notification is not None
    return notification
