"""Outbound webhooks (docs/storefront.md): endpoints, the outbox of deliveries and every attempt.

Logic lives in `compensation.webhooks`; these are the tables. Imported by `compensation.models`
so Django registers them in the compensation app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class WebhookEvent(models.TextChoices):
    REQUEST_RECEIVED = "request.received"
    REQUEST_DECIDED = "request.decided"
    REVIEW_DECIDED = "review.decided"
    REPLACEMENT_WAITING = "replacement.waiting"
    REPLACEMENT_DELIVERED = "replacement.delivered"


class WebhookEndpoint(models.Model):
    """A receiver of the shop's choosing. The secret is sealed with the credentials keys (shown
    once, when it is created); `paused_at` is set when it kept failing (a manager resumes it)."""

    url = models.URLField("URL", max_length=500, unique=True)
    secret_sealed = models.TextField(editable=False)
    # Event types sent to it (every one of WebhookEvent by default).
    events = models.JSONField(default=list)
    # Switched off by a manager: gets no new events; queued ones wait until it is on again.
    active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # First failure since the last success (None while it answers).
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["url"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint (the outbox row), written in the transaction of the change it
    reports. `body` holds the exact bytes sent (and signed) on every attempt."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The event's id (body "id" and X-Webhook-Id): the same for every endpoint of one event.
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=40, choices=WebhookEvent.choices)
    request = models.ForeignKey(
        "compensation.CompensationRequest", on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Position in the back-off schedule (reset when a manager resumes or sends again).
    backoff_step = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Lease of the worker sending it now: nobody else sends it until then.
    sending_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "request", "id"], name="webhook_delivery_chain_idx"),
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint"
            ),
            models.CheckConstraint(
                condition=~Q(state="delivered") | Q(delivered_at__isnull=False),
                name="webhook_delivered_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="pending") | Q(next_attempt_at__isnull=False),
                name="webhook_pending_has_due_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One POST of a delivery, as staff see it: when, the answer, or why there was none."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    # "timeout", "connection", "deadline", "refused_address: …", "redirect not followed"…
    error = models.CharField(max_length=200, blank=True, default="")
    response_excerpt = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt at {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"
