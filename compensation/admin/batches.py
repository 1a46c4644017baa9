"""Replacement batches in the back office (read-only), with the queue per product above the list:
what waits for stock, how many accounts it needs, since when, and what is on hand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from compensation.admin.display import age_display
from compensation.models import ReplacementBatch
from compensation.selectors_backoffice import fulfilment_queue_per_product
from inventory.admin_mixins import ReadOnlyAdminMixin


@admin.register(ReplacementBatch)
class ReplacementBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/compensation/replacementbatch/change_list.html"
    # Columns that fit 1,280 px: when the customer was told "unavailable" is on the batch page.
    list_display = (
        "batch",
        "product_sku",
        "quantity",
        "state",
        "approved_at",
        "delivered_at",
        "order",
        "request_link",
    )
    list_display_links = ("batch",)
    list_filter = ("state", "product")
    ordering = ("approved_at", "id")
    list_select_related = ("product", "line__order")
    fields = (
        "line",
        "product",
        "request",
        "quantity",
        "state",
        "approved_at",
        "approved_by",
        "delivered_at",
        "unavailable_notified_at",
    )
    readonly_fields = fields

    @admin.display(description="batch", ordering="id")
    def batch(self, obj: ReplacementBatch) -> str:
        return f"#{obj.pk}"

    @admin.display(description="product", ordering="product__sku")
    def product_sku(self, obj: ReplacementBatch) -> str:
        return format_html('<span title="{}">{}</span>', obj.product.name, obj.product.sku)

    @admin.display(description="order", ordering="line__order__order_id")
    def order(self, obj: ReplacementBatch) -> str:
        return obj.line.order.order_id

    @admin.display(description="request")
    def request_link(self, obj: ReplacementBatch) -> str:
        url = reverse("admin:compensation_compensationrequest_change", args=[obj.request_id])
        return format_html('<a href="{}">the request</a>', url)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        now = timezone.now()
        queue = [
            {
                "q": q,
                "waiting_for": age_display(
                    now - q.oldest_approved_at if q.oldest_approved_at else None
                ),
            }
            for q in fulfilment_queue_per_product()
        ]
        extra_context = {**(extra_context or {}), "product_queue": queue}
        return super().changelist_view(request, extra_context=extra_context)
