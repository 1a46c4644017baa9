from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from compensation import models_webhooks  # noqa: F401  (registers the webhook tables)

# Requests by e-mail live in their own module; imported here so Django registers the model.
from compensation.models_intake import InboundMessage as InboundMessage


def _when(moment: datetime) -> str:
    """The admin's one date format (DATETIME_FORMAT, in the current time zone)."""
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


class RequestStatus(models.TextChoices):
    CHECKING = "checking", _("Checking")
    DECIDED = "decided", _("Decided")


class Decision(models.TextChoices):
    PENDING = "pending", _("Being checked")
    APPROVED = "approved", _("Approved")
    MANUAL_REVIEW = "manual_review", _("Waiting for a person")
    REJECTED = "rejected", _("Rejected")
    UNVERIFIED = "unverified", _("Could not be checked yet")


class CompensationRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="requests")
    email = models.EmailField(help_text="As typed by the customer.")
    reason = models.TextField()
    password_change_warning = models.BooleanField()
    requested_skus = models.JSONField(default=list, blank=True, help_text="Empty: every line.")
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.CHECKING
    )
    # The moment the request was received: every window is judged against it.
    received_at = models.DateTimeField(db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Set when a check task first claims the request's accounts: no other task checks them before
    # then (`check_claims`). Null: waiting for its first check. One row per request, not per
    # account: a claim of 1,000 accounts writes one row.
    check_lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(Upper("email"), name="request_email_upper_idx"),
            # The list filtered by status, newest first.
            models.Index(fields=["status", "received_at", "id"], name="request_status_idx"),
            # Requests waiting for their first check, oldest first (a check task takes the oldest
            # along): a handful, but after an outage.
            models.Index(
                fields=["received_at", "id"],
                condition=Q(status="checking", check_lease_until__isnull=True),
                name="request_unclaimed_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status="checking"),
                name="one_request_in_progress_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"request for order {self.order.order_id} of {_when(self.received_at)}"


class LineClaim(models.Model):
    """One requested order line within a request."""

    class Refusal(models.TextChoices):
        NONE = "", "—"
        OUTSIDE_WINDOW = "outside_window", "outside_window"
        ALREADY_COMPENSATED = "already_compensated", "already_compensated"

    request = models.ForeignKey(
        CompensationRequest, on_delete=models.CASCADE, related_name="claims"
    )
    line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="claims")
    refusal = models.CharField(max_length=32, choices=Refusal.choices, blank=True, default="")
    # For already_compensated: when the earlier request that used the line was received.
    refusal_detail = models.JSONField(default=dict, blank=True)
    # True once an account of the line is approved, sent to review or waiting for a re-check.
    uses_compensation = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "line"], name="claim_once_per_request"),
            models.UniqueConstraint(
                fields=["line"], condition=Q(uses_compensation=True), name="line_compensated_once"
            ),
            models.CheckConstraint(
                condition=Q(refusal="") | Q(uses_compensation=False),
                name="refused_claim_uses_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"claim of {self.line}"


class ReplacementBatch(models.Model):
    """Accounts of one line approved at one time: fulfilled all together or not at all."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting for stock")
        DELIVERED = "delivered", _("Delivered")

    line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="replacement_batches"
    )
    product = models.ForeignKey(
        "inventory.Product", on_delete=models.PROTECT, related_name="replacement_batches"
    )
    request = models.ForeignKey(
        CompensationRequest, on_delete=models.PROTECT, related_name="batches"
    )
    quantity = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    # First-come, first-served key per product.
    approved_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    unavailable_notified_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["approved_at", "id"]
        verbose_name_plural = "replacement batches"
        indexes = [
            # The FIFO walk; with the quantity, the queue per product reads the index alone.
            models.Index(
                fields=["product", "state", "approved_at", "id", "quantity"],
                name="batch_fifo_idx",
            ),
            # The admin list, oldest approval first.
            models.Index(fields=["approved_at", "id"], name="batch_list_idx"),
            # A wake-up asks in one cheap query whether anybody still has to be told "unavailable".
            models.Index(
                fields=["product"],
                condition=Q(state="waiting", unavailable_notified_at__isnull=True),
                name="batch_untold_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="batch_quantity_positive"),
            models.CheckConstraint(
                condition=Q(state="waiting", delivered_at__isnull=True)
                | Q(state="delivered", delivered_at__isnull=False),
                name="batch_delivered_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"batch #{self.pk}: {self.quantity} × {self.product.sku} for order {self.line.order}"


class AccountDecision(models.Model):
    """The decision for one account within one request, with the evidence behind it."""

    # No index of its own: `decision_request_idx` and `decision_once_per_request` lead with it
    # (every index is one more write per decided account).
    request = models.ForeignKey(
        CompensationRequest, on_delete=models.CASCADE, related_name="decisions", db_index=False
    )
    claim = models.ForeignKey(LineClaim, on_delete=models.CASCADE, related_name="decisions")
    account = models.ForeignKey(
        "inventory.Account", on_delete=models.PROTECT, related_name="decisions"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.PENDING)
    rule = models.CharField(max_length=40, blank=True, default="")
    interactions = models.PositiveIntegerField(null=True, blank=True)
    # observation as received, baseline, computed counts, rule and time.
    evidence = models.JSONField(default=dict, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    check_attempts = models.PositiveIntegerField(default=0)
    # When an unverified account is checked again (a pending one's claim is its request's
    # `check_lease_until`).
    next_check_at = models.DateTimeField(null=True, blank=True)
    # Set when the case reached the review queue (its place in the queue: oldest first).
    review_requested_at = models.DateTimeField(null=True, blank=True)
    reviewed = models.BooleanField(default=False)
    # The staff columns are indexed only where set (`decision_reviewer_idx` and
    # `decision_claimer_idx`): most decisions never see a person.
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True, default="", help_text="Internal note.")
    customer_message = models.TextField(blank=True, default="", help_text="Shown to the customer.")
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    batch = models.ForeignKey(
        ReplacementBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )

    class Meta:
        verbose_name = "review case"
        verbose_name_plural = "review cases"
        ordering = ["id"]
        permissions = [
            ("review_decision", "Can decide cases in the review queue"),
            ("override_decision", "Can issue a replacement the rules refused"),
        ]
        indexes = [
            # The review queue: one decision, oldest first, id breaking ties (no sort); the
            # claim columns let the queue's summary be read from the index alone.
            models.Index(
                fields=["decision", "review_requested_at", "id", "claimed_by", "claimed_until"],
                name="decision_queue_order_idx",
            ),
            # Every decision in queue order (the list's "all"), those decided by staff, those
            # of one rule; and a request's decisions in order (its page shows the first ones).
            models.Index(fields=["review_requested_at", "id"], name="decision_list_idx"),
            models.Index(
                fields=["review_requested_at", "id"],
                condition=Q(reviewed=True),
                name="decision_reviewed_idx",
            ),
            models.Index(fields=["rule", "review_requested_at", "id"], name="decision_rule_idx"),
            models.Index(fields=["request", "id"], name="decision_request_idx"),
            models.Index(fields=["decision", "next_check_at"], name="decision_recheck_idx"),
            # The queue filtered by platform or product: the waiting cases' accounts read from
            # the index alone and merged with the accounts' (platform, id) index.
            models.Index(fields=["decision", "account"], name="decision_account_idx"),
            models.Index(
                fields=["reviewed_by"],
                condition=Q(reviewed_by__isnull=False),
                name="decision_reviewer_idx",
            ),
            models.Index(
                fields=["claimed_by"],
                condition=Q(claimed_by__isnull=False),
                name="decision_claimer_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "account"], name="decision_once_per_request"
            ),
            models.UniqueConstraint(
                fields=["account"], condition=Q(decision="approved"), name="account_replaced_once"
            ),
            models.CheckConstraint(
                condition=Q(decision="approved", batch__isnull=False)
                | ~Q(decision="approved") & Q(batch__isnull=True),
                name="approved_decision_has_batch",
            ),
        ]

    def __str__(self) -> str:
        return f"case #{self.pk}: {self.account}"


class CannedReason(models.Model):
    """Rejection reasons support staff pick from; editable by managers."""

    text = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text


class Notification(models.Model):
    """One customer e-mail and its place in the outbox: queued -> sending -> sent, or back to
    queued with a later attempt, or failed after the last attempt (shown to staff on the
    request), or skipped (an update that found nothing new to tell when it was composed).

    Its words are composed when it is sent, from the state then (`compensation.email_compose`);
    WHEN it is due is `next_attempt_at` (a scheduled send: the acknowledgement's grace period, the
    review window), which every sender respects."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("E-mail failed")
        SKIPPED = "skipped", _("Not needed (nothing new to tell)")

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40)
    to = models.EmailField()
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    request = models.ForeignKey(
        CompensationRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Database defaults too: set-based and raw inserts of notifications need not name them.
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.QUEUED, db_default=State.QUEUED
    )
    # Attempts started (a claim counts, even if the worker died during it).
    attempts = models.PositiveIntegerField(default=0, db_default=0)
    # Queued: not before this time (a scheduled send, or the back-off after a failed attempt);
    # None: as soon as possible.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Sending: since when (a worker killed mid-send leaves it; the sweep takes it back).
    sending_since = models.DateTimeField(null=True, blank=True)
    # Only once the mail server accepted the message.
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # What went wrong the last time (an SMTP code and text, or an exception name); never secrets.
    last_error = models.CharField(max_length=300, blank=True, default="", db_default="")
    # What the e-mail told, per decision id: the customer-facing state of each account. The next
    # e-mail of the request tells only what changed since.
    told = models.JSONField(default=dict, blank=True, db_default={})

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="notification_outbox_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="sent", sent_at__isnull=False)
                | ~Q(state="sent") & Q(sent_at__isnull=True),
                name="notification_sent_has_time",
            ),
            models.CheckConstraint(
                condition=Q(state="sending", sending_since__isnull=False)
                | ~Q(state="sending") & Q(sending_since__isnull=True),
                name="notification_sending_has_time",
            ),
            models.CheckConstraint(
                condition=Q(state="failed", failed_at__isnull=False)
                | ~Q(state="failed") & Q(failed_at__isnull=True),
                name="notification_failed_has_time",
            ),
            # One update e-mail per request open to new changes: queued and never claimed. A
            # sender's claim closes it (later changes open the next one).
            models.UniqueConstraint(
                fields=["request"],
                condition=Q(kind="request_update", state="queued", attempts=0),
                name="one_open_update_per_request",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class StatusServiceBreaker(models.Model):
    """Circuit breaker state shared by every web and worker process (one row per service)."""

    name = models.CharField(max_length=50, unique=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    open_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
