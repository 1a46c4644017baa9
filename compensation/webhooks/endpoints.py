"""Webhook endpoints and deliveries as managers change them (admin, `webhook_endpoint_add`).

Secrets are sealed with the credentials keys (`CREDENTIALS_ENCRYPTION_KEYS`, rotated by
`rotate_webhook_secrets`), returned in clear only by the call that creates or replaces one (the
admin shows it once), and never written to an audit event, a log line or a task argument.
"""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from compensation.models_webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent
from compensation.queueing import enqueue_on_commit
from compensation.webhooks import tasks
from compensation.webhooks.addresses import AddressRefused, url_check
from compensation.webhooks.events import (
    webhook_deliveries_resent_events,
    webhook_endpoint_changed_event,
    webhook_endpoint_created_event,
    webhook_endpoint_deleted_event,
    webhook_endpoint_resumed_event,
    webhook_secret_replaced_event,
)
from inventory.audit import Actor
from inventory.crypto import _current as credentials_fernet

MIN_SECRET_LENGTH = 16


class EndpointInvalid(ValueError):
    """The endpoint cannot be saved as given (the message says why, for the manager)."""


@dataclass(frozen=True)
class EndpointSaved:
    endpoint: WebhookEndpoint
    # "created" | "updated" | "unchanged"
    outcome: str
    # The secret in clear, only when this call created or replaced it (show it once).
    secret: str | None = None


def secret_seal(secret: str) -> str:
    return credentials_fernet().encrypt(secret.encode()).decode()


def secret_open(token: str) -> str:
    try:
        return credentials_fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the webhook secret cannot be decrypted with the configured keys") from exc


def secret_generate() -> str:
    return "whsec_" + random_secrets.token_urlsafe(32)


def events_clean(events: Iterable[str] | None) -> list[str]:
    """The event types in their documented order; None or empty means every event."""
    wanted = [e.strip() for e in (events or ()) if e and e.strip()]
    unknown = sorted(set(wanted) - set(WebhookEvent.values))
    if unknown:
        raise EndpointInvalid(
            f"unknown event(s) {', '.join(unknown)} (known: {', '.join(WebhookEvent.values)})"
        )
    return [e for e in WebhookEvent.values if e in wanted] if wanted else list(WebhookEvent.values)


def url_clean(url: str) -> str:
    url = (url or "").strip()
    try:
        url_check(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS)
    except AddressRefused as exc:
        raise EndpointInvalid(str(exc)) from exc
    return url


def _secret_clean(secret: str | None) -> str:
    if secret is None or not secret.strip():
        return secret_generate()
    secret = secret.strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise EndpointInvalid(f"the secret needs at least {MIN_SECRET_LENGTH} characters")
    return secret


def webhook_endpoint_create(
    *,
    url: str,
    secret: str | None,
    events: Iterable[str] | None,
    active: bool = True,
    actor: Actor,
    now: datetime,
) -> EndpointSaved:
    """Add an endpoint; without a secret one is generated. The result carries the secret once."""
    url = url_clean(url)
    clean_events = events_clean(events)
    clear = _secret_clean(secret)
    with transaction.atomic():
        if WebhookEndpoint.objects.filter(url=url).exists():
            raise EndpointInvalid("an endpoint with this URL exists already")
        endpoint = WebhookEndpoint.objects.create(
            url=url,
            secret_sealed=secret_seal(clear),
            events=clean_events,
            active=active,
            created_by_id=actor.pk if actor is not None and actor.is_authenticated else None,
        )
        webhook_endpoint_created_event(endpoint=endpoint, actor=actor, events=clean_events, now=now)
    return EndpointSaved(endpoint=endpoint, outcome="created", secret=clear)


def webhook_endpoint_update(
    *,
    endpoint_id: int,
    url: str,
    events: Iterable[str] | None,
    active: bool,
    actor: Actor,
    now: datetime,
) -> EndpointSaved:
    """Change URL, events or the on/off switch. Switching it on sends what waited."""
    url = url_clean(url)
    clean_events = events_clean(events)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        if WebhookEndpoint.objects.filter(url=url).exclude(pk=endpoint_id).exists():
            raise EndpointInvalid("an endpoint with this URL exists already")
        before = (endpoint.url, endpoint.events, endpoint.active)
        if before == (url, clean_events, active):
            return EndpointSaved(endpoint=endpoint, outcome="unchanged")
        switched_on = active and not endpoint.active
        endpoint.url, endpoint.events, endpoint.active = url, clean_events, active
        endpoint.save(update_fields=["url", "events", "active"])
        webhook_endpoint_changed_event(
            endpoint=endpoint,
            actor=actor,
            changes={"events": clean_events, "active": active, "previous_url": before[0]},
            now=now,
        )
        if switched_on:
            _requeue(endpoint=endpoint, now=now)
    return EndpointSaved(endpoint=endpoint, outcome="updated")


def webhook_endpoint_upsert(
    *, url: str, secret: str, events: Iterable[str] | None, actor: Actor, now: datetime
) -> EndpointSaved:
    """`manage.py webhook_endpoint_add`: create, or bring the endpoint with this URL to the given
    secret and events (idempotent by URL: the same call twice changes nothing)."""
    url = url_clean(url)
    clean_events = events_clean(events)
    clear = _secret_clean(secret)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(url=url).first()
        if endpoint is None:
            return webhook_endpoint_create(
                url=url, secret=clear, events=clean_events, actor=actor, now=now
            )
        same_secret = secret_open(endpoint.secret_sealed) == clear
        if same_secret and endpoint.events == clean_events:
            return EndpointSaved(endpoint=endpoint, outcome="unchanged")
        endpoint.events = clean_events
        if not same_secret:
            endpoint.secret_sealed = secret_seal(clear)
        endpoint.save(update_fields=["events", "secret_sealed"])
        webhook_endpoint_changed_event(
            endpoint=endpoint,
            actor=actor,
            changes={"events": clean_events, "secret_replaced": not same_secret},
            now=now,
        )
    return EndpointSaved(endpoint=endpoint, outcome="updated")


def webhook_endpoint_rotate_secret(*, endpoint_id: int, actor: Actor, now: datetime) -> str:
    """Replace the secret with a new random one and return it (shown once). Deliveries sent from
    now on are signed with it, including retries of queued ones."""
    clear = secret_generate()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        endpoint.secret_sealed = secret_seal(clear)
        endpoint.save(update_fields=["secret_sealed"])
        webhook_secret_replaced_event(endpoint=endpoint, actor=actor, now=now)
    return clear


def webhook_endpoint_delete(*, endpoint_id: int, actor: Actor, now: datetime) -> None:
    """Remove an endpoint with its deliveries (the audit event keeps that it existed)."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        pending = endpoint.deliveries.filter(state=WebhookDelivery.State.PENDING).count()
        webhook_endpoint_deleted_event(
            endpoint=endpoint, actor=actor, pending_dropped=pending, now=now
        )
        endpoint.delete()


def _requeue(*, endpoint: WebhookEndpoint, now: datetime) -> int:
    """Make every pending delivery of the endpoint due now, with a fresh back-off, and sweep."""
    requeued = endpoint.deliveries.filter(state=WebhookDelivery.State.PENDING).update(
        next_attempt_at=now, backoff_step=0
    )
    enqueue_on_commit(tasks.webhooks_sweep)
    return requeued


def webhook_endpoint_resume(*, endpoint_id: int, actor: Actor, now: datetime) -> int:
    """A manager resumes a paused endpoint: its queued deliveries go out again (in order), with a
    fresh back-off and a fresh pause clock. Returns how many deliveries were queued."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        if endpoint.paused_at is None:
            return 0
        was_paused_at = endpoint.paused_at
        endpoint.paused_at = None
        endpoint.failing_since = None
        endpoint.save(update_fields=["paused_at", "failing_since"])
        requeued = _requeue(endpoint=endpoint, now=now)
        webhook_endpoint_resumed_event(
            endpoint=endpoint, actor=actor, paused_at=was_paused_at, requeued=requeued, now=now
        )
    return requeued


def webhook_deliveries_resend(*, delivery_ids: Sequence[int], actor: Actor, now: datetime) -> int:
    """ "Send again": the deliveries (delivered or given up) are queued once more with the same
    id and body (receivers dedupe by id). One being sent right now is left alone."""
    ids = sorted({int(i) for i in delivery_ids})
    with transaction.atomic():
        rows = list(
            WebhookDelivery.objects.select_for_update()
            .filter(id__in=ids)
            .exclude(Q(state=WebhookDelivery.State.PENDING) & Q(sending_until__gt=now))
            .select_related("endpoint")
            .order_by("id")
        )
        WebhookDelivery.objects.filter(id__in=[r.id for r in rows]).update(
            state=WebhookDelivery.State.PENDING,
            next_attempt_at=now,
            backoff_step=0,
            sending_until=None,
        )
        webhook_deliveries_resent_events(deliveries=rows, actor=actor, now=now)
        for row in rows:
            enqueue_on_commit(tasks.webhook_send, row.id)
    return len(rows)


def webhook_secrets_rotate() -> int:
    """Re-encrypt every endpoint secret under the newest credentials key."""
    rotated = 0
    with transaction.atomic():
        for endpoint in WebhookEndpoint.objects.select_for_update().order_by("id"):
            endpoint.secret_sealed = (
                credentials_fernet().rotate(endpoint.secret_sealed.encode()).decode()
            )
            endpoint.save(update_fields=["secret_sealed"])
            rotated += 1
    return rotated
