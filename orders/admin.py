"""Back office for orders and their order-page links. Orders are read-only here: they come from
the import (or the admin upload); the order page shows its audit trail (events are written by
services only). The compensation desk adds the order's requests
(compensation/admin/order_links.py)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from inventory.admin_mixins import ReadOnlyAdminMixin
from inventory.admin_uploads import ImportUpload, import_upload_register
from inventory.models import Event

from .links import order_link_revoke
from .models import Order, OrderLine, OrderLink
from .selectors import order_delivered_accounts
from .services import orders_import

import_upload_register(
    "orders",
    ImportUpload(
        title="Import orders (JSON)",
        service=orders_import,
        permission="orders.add_order",
        suffix=".json",
        done_url="admin:orders_order_changelist",
    ),
)


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fields = ("product", "quantity")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


class EventInline(ReadOnlyAdminMixin, admin.TabularInline):
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
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order_id", "email", "placed_at", "import_batch", "created_at")
    search_fields = ("=order_id", "email")
    list_filter = ("placed_at",)
    date_hierarchy = "placed_at"
    fields = (
        "order_id",
        "email",
        "placed_at",
        "import_batch",
        "created_at",
        "delivered_accounts",
        "access_links",
    )
    readonly_fields = fields
    # Apps above orders extend it (compensation/admin/order_links.py adds the requests).
    inlines: ClassVar[tuple[type[InlineModelAdmin[Any, Any]], ...]] = (OrderLineInline, EventInline)
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

    @admin.display(description="order-page links")
    def access_links(self, obj: Order) -> str:
        links = OrderLink.objects.filter(order=obj).order_by("-created_at")
        if not links:
            return "—"
        return format_html_join(
            "",
            "<div><a href='{}'>link #{}</a> issued {}, expires {}{}</div>",
            (
                (
                    reverse("admin:orders_orderlink_change", args=[link.pk]),
                    link.pk,
                    link.created_at.strftime("%Y-%m-%d %H:%M"),
                    link.expires_at.strftime("%Y-%m-%d %H:%M"),
                    " — revoked" if link.revoked_at else "",
                )
                for link in links
            ),
        )


@admin.register(OrderLink)
class OrderLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Signed order-page links (only their hashes are stored). Staff can revoke one, e.g. when a
    customer forwarded the e-mail by mistake."""

    list_display = ("order", "created_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("=order__order_id",)
    list_select_related = ("order",)
    readonly_fields = ("order", "created_at", "expires_at", "revoked_at")
    exclude = ("token_hash",)
    actions = ("revoke_links",)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        # The only change staff can make to a link (the form itself stays read-only).
        return request.user.has_perm("orders.change_orderlink")

    @admin.action(description="Revoke the selected links", permissions=["revoke"])
    def revoke_links(self, request: HttpRequest, queryset: Any) -> None:
        revoked = sum(
            order_link_revoke(link_id=pk, actor=request.user, now=timezone.now())
            for pk in queryset.order_by("pk").values_list("pk", flat=True)
        )
        self.message_user(request, f"{revoked} link(s) revoked.")
