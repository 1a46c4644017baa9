from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from .interactions import INTERACTION_KINDS


class Platform(models.TextChoices):
    INSTAGRAM = "instagram", "Instagram"
    X = "x", "X"
    TIKTOK = "tiktok", "TikTok"
    REDDIT = "reddit", "Reddit"
    FACEBOOK = "facebook", "Facebook"
    YOUTUBE = "youtube", "YouTube"
    TELEGRAM = "telegram", "Telegram"
    DISCORD = "discord", "Discord"


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    platform = models.CharField(max_length=32, choices=Platform.choices)
    active = models.BooleanField(default=True)
    # The policy's windows, per product so a product with another warranty can be sold later.
    claim_window_days = models.PositiveIntegerField(default=30)
    follower_drop_window_days = models.PositiveIntegerField(default=7)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(
                condition=Q(claim_window_days__gte=1), name="product_claim_window_positive"
            ),
            models.CheckConstraint(
                condition=Q(follower_drop_window_days__lte=models.F("claim_window_days")),
                name="product_follower_window_within_claim_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"


class ImportBatch(models.Model):
    """One run of an import (command or admin upload): where rows came from."""

    class Kind(models.TextChoices):
        PRODUCTS = "products", _("Products")
        STOCK = "stock", _("Stock")
        ORDERS = "orders", _("Orders")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    rows_total = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.kind} import #{self.pk} ({self.filename})"


class Account(models.Model):
    """One deliverable social-media account: in stock, delivered to an order line, or retired."""

    class State(models.TextChoices):
        IN_STOCK = "in_stock", _("In stock")
        DELIVERED = "delivered", _("Delivered")
        RETIRED = "retired", _("Retired")

    class DeliveryKind(models.TextChoices):
        SALE = "sale", _("Sale")
        COMPENSATION = "compensation", _("Compensate Product")

    # No index of its own: account_stock_idx (product, state, id) leads with it, and every index
    # costs each account a drain delivers (the update moves the row in all of them).
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    # Denormalised from the product so "one username per platform" is a database constraint.
    platform = models.CharField(max_length=32, choices=Platform.choices)
    username = models.CharField(max_length=150)
    platform_user_id = models.CharField(max_length=64, blank=True, default="")
    # Password, e-mail, e-mail password, 2FA secret and notes, sealed together (inventory.crypto).
    credentials_sealed = models.TextField(editable=False)
    supplier = models.CharField(max_length=100, blank=True, default="")

    # Baseline taken at intake/delivery. NULL = not known (never guessed as 0).
    baseline_followers = models.PositiveIntegerField(null=True, blank=True)
    baseline_posts = models.PositiveIntegerField(null=True, blank=True)
    baseline_reposts = models.PositiveIntegerField(null=True, blank=True)
    baseline_comments = models.PositiveIntegerField(null=True, blank=True)
    baseline_likes = models.PositiveIntegerField(null=True, blank=True)
    baseline_follows = models.PositiveIntegerField(null=True, blank=True)
    baseline_messages = models.PositiveIntegerField(null=True, blank=True)

    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_STOCK)
    line = models.ForeignKey(
        "orders.OrderLine", null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_kind = models.CharField(
        max_length=16, choices=DeliveryKind.choices, blank=True, default=""
    )
    replacement_batch = models.ForeignKey(
        "compensation.ReplacementBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    import_batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        permissions = [("reveal_credentials", "Can reveal account credentials")]
        indexes = [
            models.Index(fields=["product", "state", "id"], name="account_stock_idx"),
            # The list filtered by state (retired…), in id order; for stock, which is most of the
            # table and the newest rows, an index of its own (the planner otherwise walks the
            # primary key through every delivered account first).
            models.Index(fields=["state", "id"], name="account_state_idx"),
            models.Index(fields=["id"], condition=Q(state="in_stock"), name="account_in_stock_idx"),
            # The supplier filter lists distinct suppliers by walking this index (and filters).
            models.Index(fields=["supplier"], name="account_supplier_idx"),
            # Search by the platform's user id is exact.
            models.Index(fields=["platform_user_id"], name="account_platform_user_idx"),
            # The review queue's platform filter joins on it (see decision_account_idx).
            models.Index(fields=["platform", "id"], name="account_platform_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("username"), "platform", name="account_username_per_platform"
            ),
            # In stock exactly when on no line; delivered exactly when on a line.
            models.CheckConstraint(
                condition=(
                    Q(
                        state="in_stock",
                        line__isnull=True,
                        delivered_at__isnull=True,
                        delivery_kind="",
                    )
                    | Q(state="delivered", line__isnull=False, delivered_at__isnull=False)
                    & ~Q(delivery_kind="")
                    | Q(state="retired")
                ),
                name="account_state_matches_line",
            ),
            # A replacement is delivered as compensation exactly when it belongs to a batch.
            models.CheckConstraint(
                condition=(
                    Q(delivery_kind="compensation", replacement_batch__isnull=False)
                    | ~Q(delivery_kind="compensation") & Q(replacement_batch__isnull=True)
                ),
                name="account_compensation_has_batch",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.username}"

    @property
    def baseline_interactions(self) -> dict[str, int | None]:
        return {kind: getattr(self, f"baseline_{kind}") for kind in INTERACTION_KINDS}


class Event(models.Model):
    """Append-only audit trail: who did what, why and when. Written by services only, through
    `inventory.audit` (each app's `events.py` has one function per kind it records), in the same
    transaction as the change it records; never edited, never deleted.

    It lives in the lowest app because every app writes it; `kind` is free text (no choices), so
    a new kind needs no migration here. The table keeps its first name (`orders_event`)."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=40)
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,  # event_order_trail_idx leads with it
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    # Soft references keep this table free of a dependency on the compensation app.
    request_id = models.UUIDField(null=True, blank=True)  # event_request_trail_idx leads with it
    batch_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    message = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "orders_event"
        ordering = ["at", "id"]
        # The kind filter: its choices (a walk over the leading column) and its pages, in order.
        indexes = [
            models.Index(fields=["kind", "at", "id"], name="event_kind_idx"),
            # A request's or an order's trail, in order, read a page at a time (a 1,000-account
            # order has thousands of events; its page shows the latest few).
            models.Index(fields=["request_id", "at", "id"], name="event_request_trail_idx"),
            models.Index(fields=["order", "at", "id"], name="event_order_trail_idx"),
        ]

    def __str__(self) -> str:
        when = formats.date_format(timezone.localtime(self.at), "DATETIME_FORMAT")
        return f"{self.kind} on {when}"
