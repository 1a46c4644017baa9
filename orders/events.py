"""The single writer of audit events (orders.Event). Call inside the transaction of the change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from .models import Event

Actor = AbstractBaseUser | AnonymousUser | None


def actor_pk(actor: Actor) -> int | None:
    """The user id to record, or None for the system and anonymous customers."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return actor.pk


def event_record(
    *,
    kind: str,
    actor: Actor = None,
    order_id: int | None = None,
    account_id: int | None = None,
    request_id: uuid.UUID | None = None,
    batch_id: int | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Event:
    return Event.objects.create(
        at=at or timezone.now(),
        actor_id=actor_pk(actor),
        kind=kind,
        order_id=order_id,
        account_id=account_id,
        request_id=request_id,
        batch_id=batch_id,
        message=message,
        data=data or {},
    )


def events_record_many(events: Iterable[Event]) -> list[Event]:
    """Bulk insert of prepared (unsaved) events, for set-based services."""
    return Event.objects.bulk_create(list(events), batch_size=1000)
