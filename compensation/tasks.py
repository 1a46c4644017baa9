"""django-q2 task entry points: thin and idempotent. They take ids (never credentials: task
arguments are readable in the queue tables), call one service, and are safe to run twice."""

from __future__ import annotations

import uuid

from django.utils import timezone


def check_request(request_id: str) -> None:
    from compensation.services.checks import request_run_checks

    request_run_checks(request_id=uuid.UUID(str(request_id)), now=timezone.now())


def recheck_due() -> int:
    from compensation.services.checks import decisions_recheck_due

    return decisions_recheck_due(now=timezone.now())


def resume_stalled_checks() -> int:
    from compensation.services.checks import requests_resume_stalled

    return requests_resume_stalled(now=timezone.now())


def fulfil_product(product_id: int) -> int:
    from compensation.services.fulfilment import batches_fulfil

    return batches_fulfil(product_id=int(product_id), now=timezone.now())


def fulfil_sweep() -> int:
    from compensation.services.fulfilment import batches_sweep

    return batches_sweep(now=timezone.now())


def send_notification(notification_id: int) -> int:
    """One e-mail (and other due ones, on the same connection)."""
    from compensation.services.outbox import notifications_send

    return notifications_send(notification_ids=[int(notification_id)])


def send_notifications(notification_ids: list[int]) -> int:
    """These e-mails (and other due ones, up to the outbox's batch) on one connection."""
    from compensation.services.outbox import notifications_send

    return notifications_send(notification_ids=[int(pk) for pk in notification_ids])


def expire_review_claims() -> int:
    from compensation.services.review import review_claims_expire

    return review_claims_expire(now=timezone.now())


def send_unsent_notifications() -> int:
    from compensation.services.outbox import notifications_send_due

    return notifications_send_due(now=timezone.now())


def send_fresh_link(order_id: str) -> bool:
    """The fresh-link form's work (the form answers before the order is even looked up)."""
    from compensation.services.fresh_links import order_link_request

    return order_link_request(order_id=str(order_id), now=timezone.now())
