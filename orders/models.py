from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import formats, timezone


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
        indexes = [
            # Staff search e-mails case-insensitively (`iexact` is UPPER() = UPPER()); order ids
            # go through the unique constraint's UPPER() index below.
            models.Index(Upper("email"), name="order_email_upper_idx"),
            # The admin list: newest first, id breaking ties.
            models.Index(fields=["placed_at", "id"], name="order_placed_idx"),
        ]
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
        return f"{self.order.order_id} / {self.product.sku} × {self.quantity}"


class OrderLink(models.Model):
    """A signed, expiring link to the order page. Only a hash of the token is kept, so a leaked
    database does not leak working links, and a link can be revoked."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # When the page was last opened with it (staff tell the links apart before revoking one).
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at", "id"], name="orderlink_created_idx")]

    def __str__(self) -> str:
        created = formats.date_format(timezone.localtime(self.created_at), "DATETIME_FORMAT")
        return f"link for order {self.order.order_id} created {created}"
