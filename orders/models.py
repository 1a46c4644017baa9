from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class Order(models.Model):
    order_id = models.CharField("order id", max_length=64, unique=True)
    email = models.EmailField()
    placed_at = models.DateTimeField()
    import_batch = models.ForeignKey(
        "inventory.ImportBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            # Customers type order ids in any case: "d1040" is D1040. The expression index also
            # serves the lookup (orders.selectors.order_find).
            models.UniqueConstraint(Upper("order_id"), name="order_id_unique_ignoring_case"),
        ]

    def __str__(self) -> str:
        return self.order_id


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="orderline_one_per_product"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="orderline_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} / {self.product_id} × {self.quantity}"


class Event(models.Model):
    """Append-only audit trail: who did what, why and when. Written by services only, in the
    same transaction as the change it records (never edited, never deleted)."""

    class Kind(models.TextChoices):
        ORDER_IMPORTED = "order_imported"
        ACCOUNTS_DELIVERED = "accounts_delivered"
        CREDENTIALS_REVEALED = "credentials_revealed"
        ACCOUNT_RETIRED = "account_retired"
        ACCOUNT_RESTOCKED = "account_restocked"
        REQUEST_RECEIVED = "request_received"
        REQUEST_DECIDED = "request_decided"
        LINE_REFUSED = "line_refused"
        ACCOUNT_DECIDED = "account_decided"
        ACCOUNT_RECHECK_SCHEDULED = "account_recheck_scheduled"
        REVIEW_CLAIMED = "review_claimed"
        REVIEW_RELEASED = "review_released"
        REVIEW_DECIDED = "review_decided"
        REVIEW_RECHECKED = "review_rechecked"
        OVERRIDE_ISSUED = "override_issued"
        BATCH_CREATED = "batch_created"
        BATCH_WAITING = "batch_waiting"
        BATCH_DELIVERED = "batch_delivered"
        EMAIL_SENT = "email_sent"
        LINK_ISSUED = "link_issued"
        LINK_REVOKED = "link_revoked"
        CREDENTIALS_ROTATED = "credentials_rotated"

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    account = models.ForeignKey(
        "inventory.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    # Soft references keep this table free of a dependency on the compensation app.
    request_id = models.UUIDField(null=True, blank=True, db_index=True)
    batch_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    message = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"


class OrderLink(models.Model):
    """A signed, expiring link to the order page. Only a hash of the token is kept, so a leaked
    database does not leak working links, and a link can be revoked."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"link for {self.order_id} until {self.expires_at:%Y-%m-%d}"
