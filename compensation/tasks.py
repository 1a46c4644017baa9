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


def send_notification(notification_id: int) -> None:
    from compensation.services.notifications import notification_send

    notification_send(notification_id=int(notification_id))


def expire_review_claims() -> int:
    from compensation.services.review import review_claims_expire

    return review_claims_expire(now=timezone.now())


def send_unsent_notifications() -> int:
    from compensation.services.notifications import notifications_send_unsent

    return notifications_send_unsent(now=timezone.now())
