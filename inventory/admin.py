"""Back office for products, stock accounts and the audit trail (imports: admin_uploads.py).

Credentials never appear in a list, a search or a form: the sealed column is not editable and
not displayed. Staff with `inventory.reveal_credentials` can reveal one account's credentials on
a separate page, after a POST, which leaves an audit event. State changes go through services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.html import format_html

from . import admin_uploads  # noqa: F401  (registers the import batches and their uploads)
from .admin_mixins import (
    CappedCountPaginator,
    IndexedValuesFieldListFilter,
    ReadOnlyAdminMixin,
    ids_or_subquery,
)
from .models import Account, Event, Product
from .selectors import products_with_stock_counts
from .services import (
    AccountStateError,
    account_restock,
    account_retire,
    account_reveal_credentials,
)


# --- Products ----------------------------------------------------------------------------------
@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "platform", "active", "in_stock", "delivered", "retired")
    list_filter = ("platform", "active")
    search_fields = ("sku", "name")
    change_list_template = "admin/inventory/product/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return products_with_stock_counts()

    @admin.display(description="in stock", ordering="in_stock")
    def in_stock(self, obj: Any) -> int:
        return int(obj.in_stock)

    @admin.display(description="delivered", ordering="delivered")
    def delivered(self, obj: Any) -> int:
        return int(obj.delivered)

    @admin.display(description="retired", ordering="retired")
    def retired(self, obj: Any) -> int:
        return int(obj.retired)


# --- Stock accounts ----------------------------------------------------------------------------
@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = (
        "username",
        "product",
        "platform",
        "state",
        "supplier",
        "order",
        "delivery_kind",
    )
    list_filter = (
        "state",
        "product",
        "platform",
        ("supplier", IndexedValuesFieldListFilter),
        "delivery_kind",
    )
    # Part of a username, an exact platform user id or an exact order id (get_search_results).
    search_fields = ("username", "platform_user_id", "=line__order__order_id")
    search_help_text = "Part of a username, or an exact platform user id or order id."
    list_select_related = ("product", "line__order")
    show_full_result_count = False
    paginator = CappedCountPaginator
    actions = ("retire_selected", "restock_selected")
    change_list_template = "admin/inventory/account/change_list.html"
    fields = (
        "product",
        "platform",
        "username",
        "platform_user_id",
        "credentials",
        "supplier",
        "baseline_followers",
        "baseline_posts",
        "baseline_reposts",
        "baseline_comments",
        "baseline_likes",
        "baseline_follows",
        "baseline_messages",
        "state",
        "order",
        "line",
        "delivered_at",
        "delivery_kind",
        "replacement_batch",
        "import_batch",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # stock arrives through the import (credentials are sealed there)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # retire instead: delivered accounts and events refer to it

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        # The list and the form never show the sealed credentials: never read them either.
        return super().get_queryset(request).defer("credentials_sealed")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Account], search_term: str
    ) -> tuple[QuerySet[Account], bool]:
        """Every condition on the account row itself, each with an index (a trigram index on
        the username on PostgreSQL), so the database combines them instead of reading the
        table; the order id is first turned into the order's line ids."""
        lines = Account._meta.get_field("line").related_model._default_manager  # type: ignore[union-attr]
        for term in search_term.split():
            line_ids = list(lines.filter(order__order_id__iexact=term).values_list("pk", flat=True))
            queryset = queryset.filter(
                Q(username__icontains=term) | Q(platform_user_id=term) | Q(line_id__in=line_ids)
            )
        return queryset, False

    @admin.display(description="order", ordering="line__order__order_id")
    def order(self, obj: Account) -> str:
        return obj.line.order.order_id if obj.line else "—"

    @admin.display(description="credentials")
    def credentials(self, obj: Account) -> str:
        return format_html(
            '<a class="button" href="{}">Reveal credentials…</a> '
            '<span class="help">needs the “reveal credentials” permission; every reveal is '
            "recorded</span>",
            reverse("admin:inventory_account_reveal", args=[obj.pk]),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="inventory_account_reveal",
            ),
            *super().get_urls(),
        ]

    def reveal_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("inventory.reveal_credentials"):
            raise PermissionDenied
        account = get_object_or_404(Account.objects.select_related("product"), pk=object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Credentials of {account.platform}:{account.username}",
            "account": account,
            "credentials": None,
        }
        if request.method == "POST":
            context["credentials"] = account_reveal_credentials(
                account_id=account.pk, actor=request.user, now=timezone.now()
            )
        response = TemplateResponse(
            request, "admin/inventory/account/reveal_credentials.html", context
        )
        patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
        # Not no-referrer: under it Chromium posts this page's own form with `Origin: null`,
        # which the admin's CSRF check refuses (no manager could ever reveal). same-origin keeps
        # the URL from other sites and lets the browser send the real Origin to this one.
        response["Referrer-Policy"] = "same-origin"
        return response

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Account],
        service: Callable[..., None],
        done: str,
    ) -> None:
        ok = refused = 0
        now = timezone.now()
        for account_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                service(account_id=account_id, actor=request.user, now=now)
                ok += 1
            except AccountStateError:
                refused += 1
        if ok:
            self.message_user(request, f"{ok} account(s) {done}.", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"{refused} account(s) were not in a state that allows "
                f"this and were left unchanged.",
                messages.WARNING,
            )

    @admin.action(
        description="Retire selected accounts (take them out of stock)", permissions=["change"]
    )
    def retire_selected(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        self._each(request, queryset, account_retire, "retired")

    @admin.action(description="Put selected retired accounts back in stock", permissions=["change"])
    def restock_selected(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        self._each(request, queryset, account_restock, "put back in stock")


# --- Audit trail ---------------------------------------------------------------------------
@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "kind", "actor", "order", "account", "message")
    # Kinds are walked through their index; a date filter instead of a date hierarchy (whose
    # year list is a DISTINCT over every event).
    list_filter = (("kind", IndexedValuesFieldListFilter), "at")
    # An exact order id or part of a username (get_search_results).
    search_fields = ("=order__order_id", "account__username")
    search_help_text = "An order id (exactly) or part of a username."
    list_select_related = ("actor", "order", "account")
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = (
        "at",
        "kind",
        "actor",
        "order",
        "account",
        "request_id",
        "batch_id",
        "message",
        "data",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        return super().get_queryset(request).defer("account__credentials_sealed")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Event], search_term: str
    ) -> tuple[QuerySet[Event], bool]:
        """Order and accounts are found first (through their indexes), then the events by
        their indexed order and account columns."""
        orders = Event._meta.get_field("order").related_model._default_manager  # type: ignore[union-attr]
        for term in search_term.split():
            order_ids = list(orders.filter(order_id__iexact=term).values_list("pk", flat=True))
            accounts = Account.objects.filter(username__icontains=term)
            queryset = queryset.filter(
                Q(order_id__in=order_ids) | Q(account_id__in=ids_or_subquery(accounts))
            )
        return queryset, False
