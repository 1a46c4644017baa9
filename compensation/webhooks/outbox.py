"""The outbox: one `WebhookDelivery` per event and subscribed endpoint, written in the transaction
of the change it reports (so an event is sent if and only if the change committed), and queued
for sending after commit.

The body is built once per event from the same selector the JSON API uses
(`compensation.selectors.request_view_json`), so a receiver sees the request exactly as
`GET /api/v1/compensation-requests/{id}` showed it at that moment — never a credential.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from compensation.models_webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent
from compensation.queueing import enqueue_on_commit
from compensation.selectors import request_view_json, request_views
from compensation.webhooks import tasks
from compensation.webhooks.signing import event_body


def webhooks_emit(*, event_type: str, request_ids: Iterable[uuid.UUID], now: datetime) -> int:
    """Record `event_type` for each request, for every active endpoint subscribed to it. Call
    inside the transaction of the change. Returns the number of deliveries written."""
    if event_type not in WebhookEvent.values:
        raise ValueError(f"unknown webhook event {event_type!r}")
    ids = list(dict.fromkeys(request_ids))
    if not ids:
        return 0
    endpoint_ids = [
        pk
        for pk, events in WebhookEndpoint.objects.filter(active=True).values_list("id", "events")
        if event_type in (events or ())
    ]
    if not endpoint_ids:
        return 0
    views = request_views(request_ids=ids)  # one set of queries for every request
    rows: list[WebhookDelivery] = []
    for request_id in ids:
        view = views.get(request_id)
        if view is None:
            continue
        event_id = uuid.uuid4()
        body = event_body(
            event_id=event_id,
            event_type=event_type,
            created_at=now,
            request=request_view_json(view),
        )
        rows.extend(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_id=event_id,
                event_type=event_type,
                request_id=request_id,
                body=body,
                created_at=now,
                next_attempt_at=now,
            )
            for endpoint_id in endpoint_ids
        )
    created = WebhookDelivery.objects.bulk_create(rows)
    for row in created:
        enqueue_on_commit(tasks.webhook_send, row.pk)
    return len(created)
