"""django-q2 entry points of the webhooks: thin, idempotent, ids only (never a secret)."""

from __future__ import annotations

from django.utils import timezone


def webhook_send(delivery_id: int, probe: bool = False) -> str:
    from compensation.webhooks.delivery import webhook_delivery_send

    return webhook_delivery_send(delivery_id=int(delivery_id), now=timezone.now(), probe=probe)


def webhooks_sweep() -> int:
    from compensation.webhooks.delivery import webhooks_sweep as sweep

    return sweep(now=timezone.now())
