"""Audit events of webhook endpoints and deliveries (one function per kind; kinds in
compensation.events). Never the secret: endpoints are named by id and URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from compensation.events import CompensationEvent
from compensation.models_webhooks import WebhookDelivery, WebhookEndpoint
from inventory.audit import Actor, event_new, event_record, events_record_many
from inventory.models import Event


def _endpoint_event(
    kind: CompensationEvent,
    *,
    endpoint: WebhookEndpoint,
    actor: Actor,
    data: Mapping[str, Any],
    now: datetime,
) -> Event:
    return event_record(
        kind=kind,
        actor=actor,
        message=endpoint.url,
        data={"endpoint_id": endpoint.pk, **data},
        at=now,
    )


def webhook_endpoint_created_event(
    *, endpoint: WebhookEndpoint, actor: Actor, events: Sequence[str], now: datetime
) -> Event:
    return _endpoint_event(
        CompensationEvent.WEBHOOK_ENDPOINT_CREATED,
        endpoint=endpoint,
        actor=actor,
        data={"events": list(events)},
        now=now,
    )


def webhook_endpoint_changed_event(
    *, endpoint: WebhookEndpoint, actor: Actor, changes: Mapping[str, Any], now: datetime
) -> Event:
    """`changes`: the new events and whichever of active / previous_url / secret_replaced apply."""
    return _endpoint_event(
        CompensationEvent.WEBHOOK_ENDPOINT_CHANGED,
        endpoint=endpoint,
        actor=actor,
        data=changes,
        now=now,
    )


def webhook_secret_replaced_event(
    *, endpoint: WebhookEndpoint, actor: Actor, now: datetime
) -> Event:
    return _endpoint_event(
        CompensationEvent.WEBHOOK_SECRET_REPLACED, endpoint=endpoint, actor=actor, data={}, now=now
    )


def webhook_endpoint_deleted_event(
    *, endpoint: WebhookEndpoint, actor: Actor, pending_dropped: int, now: datetime
) -> Event:
    return _endpoint_event(
        CompensationEvent.WEBHOOK_ENDPOINT_DELETED,
        endpoint=endpoint,
        actor=actor,
        data={"pending_dropped": pending_dropped},
        now=now,
    )


def webhook_endpoint_resumed_event(
    *, endpoint: WebhookEndpoint, actor: Actor, paused_at: datetime, requeued: int, now: datetime
) -> Event:
    return _endpoint_event(
        CompensationEvent.WEBHOOK_ENDPOINT_RESUMED,
        endpoint=endpoint,
        actor=actor,
        data={"paused_at": paused_at.isoformat(), "requeued": requeued},
        now=now,
    )


def webhook_endpoint_paused_event(
    *, endpoint: WebhookEndpoint, failing_since: datetime, now: datetime
) -> Event:
    return event_record(
        kind=CompensationEvent.WEBHOOK_ENDPOINT_PAUSED,
        message=f"{endpoint.url}: no success since {failing_since:%Y-%m-%d %H:%M} UTC",
        data={"endpoint_id": endpoint.pk, "failing_since": failing_since.isoformat()},
        at=now,
    )


def webhook_delivery_failed_event(
    *, delivery: WebhookDelivery, endpoint: WebhookEndpoint, attempts: int, now: datetime
) -> Event:
    return event_record(
        kind=CompensationEvent.WEBHOOK_DELIVERY_FAILED,
        request_id=delivery.request_id,
        message=f"{delivery.event_type} to {endpoint.url}: gave up after {attempts} attempts",
        data={"delivery_id": delivery.pk, "endpoint_id": endpoint.pk},
        at=now,
    )


def webhook_deliveries_resent_events(
    *, deliveries: Sequence[WebhookDelivery], actor: Actor, now: datetime
) -> list[Event]:
    """One event per delivery queued again by "send again" (rows with their endpoint)."""
    return events_record_many(
        event_new(
            kind=CompensationEvent.WEBHOOK_DELIVERY_RESENT,
            actor=actor,
            request_id=row.request_id,
            message=f"{row.event_type} to {row.endpoint.url}",
            data={"delivery_id": row.id, "endpoint_id": row.endpoint_id},
            at=now,
        )
        for row in deliveries
    )
