"""The order's compensation requests on the order admin page.

`orders` never imports compensation, so the order admin cannot list requests itself: the desk
re-registers it with one more inline (the usual way to extend another app's ModelAdmin).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from compensation.models import CompensationRequest
from inventory.admin_mixins import ReadOnlyAdminMixin
from orders.admin import OrderAdmin
from orders.models import Order


class OrderRequestsInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CompensationRequest
    fields = ("request", "status", "received_at", "decided_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "compensation request"
    verbose_name_plural = "compensation requests"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).order_by("received_at")

    @admin.display(description="request")
    def request(self, obj: CompensationRequest) -> str:
        return format_html(
            "<a href='{}'>{}</a>",
            reverse("admin:compensation_compensationrequest_change", args=[obj.pk]),
            obj.pk,
        )


admin.site.unregister(Order)


@admin.register(Order)
class OrderWithRequestsAdmin(OrderAdmin):
    inlines = (*OrderAdmin.inlines, OrderRequestsInline)
