"""Back office for orders and their order-page links. Orders are read-only here: they come from
the import (or the admin upload); the order page shows its audit trail (events are written by
services only). The compensation desk adds the order's requests
(compensation/admin/order_links.py)."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from inventory.admin_mixins import BoundedInlineMixin, ReadOnlyAdminMixin, when_display
from inventory.admin_uploads import ImportUpload, import_upload_register
from inventory.choices import choice_labels
from inventory.models import Account, Event

from .links import order_link_revoke, order_links_revoke_all
from .models import Order, OrderLine, OrderLink
from .selectors import order_delivered_account_rows
from .services import orders_import

# An order of a thousand accounts lists its first hundred; the rest are one click away.
DELIVERED_ACCOUNTS_SHOWN = 100

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

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("product")


class EventInline(BoundedInlineMixin, ReadOnlyAdminMixin, admin.TabularInline):
    """The order's latest events; the whole trail is one click away (an order with a thousand
    accounts has thousands of events)."""

    model = Event
    fk_name = "order"
    fields = ("at", "kind", "actor", "account", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "audit event"
    verbose_name_plural = "audit trail (latest first)"

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            .select_related("actor", "account")
            .defer("account__credentials_sealed", "data")
            .order_by("-at", "-id")
        )

    def bounded_full_list_url(self, obj: Order) -> str:
        return reverse("admin:inventory_event_changelist") + f"?order__id__exact={obj.pk}"


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order_id", "email", "placed_at", "import_batch", "created_at")
    list_select_related = ("import_batch",)
    # Exact, case-insensitive: both columns have an UPPER() index (a substring search of 100k
    # e-mails reads the whole table, twice: for the count and for the page).
    search_fields = ("=order_id", "=email")
    # A date filter, not a date hierarchy: the hierarchy lists the years present with a
    # DISTINCT over the whole table on every view.
    list_filter = ("placed_at",)
    fields = (
        "order_id",
        "email",
        "placed_at",
        "import_batch",
        "created_at",
        "delivered_accounts",
    )
    readonly_fields = fields
    # Apps above orders extend it (compensation/admin/order_links.py adds the requests).
    inlines: ClassVar[tuple[type[InlineModelAdmin[Any, Any]], ...]] = (OrderLineInline, EventInline)
    change_list_template = "admin/orders/order/change_list.html"

    @admin.display(description="delivered accounts")
    def delivered_accounts(self, obj: Order) -> str:
        shown = DELIVERED_ACCOUNTS_SHOWN
        rows = order_delivered_account_rows(order_id=obj.pk, limit=shown + 1)
        if not rows:
            return "—"
        more = ""
        if len(rows) > shown:
            rows = rows[:shown]
            more = format_html(
                '<p class="help">Showing the first {}. <a href="{}?{}">See them all →</a></p>',
                shown,
                reverse("admin:inventory_account_changelist"),
                urlencode({"q": obj.order_id}),
            )
        kinds = choice_labels(Account, "delivery_kind")
        states = choice_labels(Account, "state")
        # Each account's page is `<id>/change/` under the list: one reverse, not a hundred.
        accounts_url = reverse("admin:inventory_account_changelist")
        cells = format_html_join(
            "",
            "<tr><td>{}</td><td><a href='{}{}/change/'>{}</a></td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    sku,
                    accounts_url,
                    pk,
                    username,
                    platform,
                    kinds.get(kind, kind),
                    when_display(delivered_at),
                    states.get(state, state),
                )
                for pk, sku, username, platform, kind, delivered_at, state in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>product</th><th>username</th><th>platform</th>"
            "<th>delivered as</th><th>delivered at</th><th>state</th></tr></thead>"
            "<tbody>{}</tbody></table>{}",
            cells,
            more,
        )

    change_form_template = "admin/orders/order/change_form.html"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The order page also lists its order-page links, each with when it was created and
        last used, so staff can tell them apart and revoke one or all (below the read-only form:
        each button is its own POST form)."""
        context = {**(extra_context or {})}
        obj = self.get_object(request, object_id)
        if obj is not None:
            now = timezone.now()
            context["order_links"] = [
                {
                    "link": link,
                    "created": when_display(link.created_at),
                    "expires": when_display(link.expires_at),
                    "last_used": when_display(link.last_used_at) if link.last_used_at else "never",
                    "revoked": when_display(link.revoked_at) if link.revoked_at else "",
                    "live": link.revoked_at is None and link.expires_at > now,
                }
                for link in OrderLink.objects.filter(order=obj).order_by("-created_at")
            ]
            context["can_revoke_links"] = request.user.has_perm("orders.change_orderlink")
            context["revoke_url"] = reverse("admin:orders_order_revoke_links", args=[obj.pk])
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:order_pk>/revoke-links/",
                self.admin_site.admin_view(self.revoke_links_view),
                name="orders_order_revoke_links",
            ),
            *super().get_urls(),
        ]

    def revoke_links_view(self, request: HttpRequest, order_pk: int) -> HttpResponse:
        """POST `link` = one link's id, or `all`: revoke it (them) and go back to the order."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("orders.change_orderlink"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_pk)
        now = timezone.now()
        which = request.POST.get("link", "")
        if which == "all":
            count = order_links_revoke_all(order_id=order.pk, actor=request.user, now=now)
            self.message_user(request, f"{count} link(s) of order {order} revoked.")
        else:
            link = get_object_or_404(OrderLink, pk=which if which.isdigit() else 0, order=order)
            if order_link_revoke(link_id=link.pk, actor=request.user, now=now):
                self.message_user(request, f"The {link} is revoked.")
            else:
                self.message_user(request, "That link was already revoked.", messages.WARNING)
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))


@admin.register(OrderLink)
class OrderLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Signed order-page links (only their hashes are stored). Staff can revoke one, e.g. when a
    customer forwarded the e-mail by mistake."""

    list_display = ("order", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("=order__order_id",)
    list_select_related = ("order",)
    readonly_fields = ("order", "created_at", "last_used_at", "expires_at", "revoked_at")
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
