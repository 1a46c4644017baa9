"""Back office for orders and the audit trail. Both are read-only here: orders come from the
import (or the admin upload) and events are written by services only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .models import Event, Order, OrderLine
from .selectors import order_delivered_accounts


class _ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderLineInline(_ReadOnlyMixin, admin.TabularInline):
    model = OrderLine
    fields = ("product", "quantity")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


class EventInline(_ReadOnlyMixin, admin.TabularInline):
    model = Event
    fk_name = "order"
    fields = ("at", "kind", "actor", "account", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "audit event"
    verbose_name_plural = "audit trail"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("actor", "account")


@admin.register(Order)
class OrderAdmin(_ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("order_id", "email", "placed_at", "import_batch", "created_at")
    search_fields = ("=order_id", "email")
    list_filter = ("placed_at",)
    date_hierarchy = "placed_at"
    fields = ("order_id", "email", "placed_at", "import_batch", "created_at", "delivered_accounts")
    readonly_fields = fields
    inlines = (OrderLineInline, EventInline)
    change_list_template = "admin/orders/order/change_list.html"

    @admin.display(description="delivered accounts")
    def delivered_accounts(self, obj: Order) -> str:
        accounts = list(order_delivered_accounts(order_id=obj.pk))
        if not accounts:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>",
            (
                (
                    a.line.product.sku if a.line else "",
                    reverse("admin:inventory_account_change", args=[a.pk]),
                    a.username,
                    a.platform,
                    a.get_delivery_kind_display(),
                    a.delivered_at.strftime("%Y-%m-%d %H:%M UTC") if a.delivered_at else "",
                    a.get_state_display(),
                )
                for a in accounts
            ),
        )
        return format_html(
            "<table><thead><tr><th>product</th><th>username</th><th>platform</th>"
            "<th>delivered as</th><th>delivered at</th><th>state</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )


@admin.register(Event)
class EventAdmin(_ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("at", "kind", "actor", "order", "account", "message")
    list_filter = ("kind", "at")
    search_fields = ("=order__order_id", "account__username", "message")
    list_select_related = ("actor", "order", "account")
    date_hierarchy = "at"
    show_full_result_count = False
    readonly_fields = ("at", "kind", "actor", "order", "account", "request_id", "batch_id",
                       "message", "data")
