"""Back office for products, stock accounts and imports.

Credentials never appear in a list, a search or a form: the sealed column is not editable and
not displayed. Staff with `inventory.reveal_credentials` can reveal one account's credentials on
a separate page, after a POST, which leaves an audit event. State changes go through services.

The three imports are offered as uploads with a preview: the file is validated (a dry run of the
very service the commands use), every error is shown, and only a confirmation imports it. Between
preview and confirmation the upload is kept encrypted on disk (it may hold passwords).
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.html import format_html

from orders.services import orders_import

from .importing import ImportReport, products_import, stock_import
from .models import Account, ImportBatch, Product
from .selectors import products_with_stock_counts
from .services import (
    AccountStateError,
    account_restock,
    account_retire,
    account_reveal_credentials,
)

# kind -> (title, service, permission needed, accepted file suffix, where to go afterwards)
IMPORTS: dict[str, tuple[str, Callable[..., ImportReport], str, str, str]] = {
    "products": (
        "Import products (CSV: sku,name,platform)",
        products_import,
        "inventory.add_product",
        ".csv",
        "admin:inventory_product_changelist",
    ),
    "stock": (
        "Import stock accounts (CSV)",
        stock_import,
        "inventory.add_account",
        ".csv",
        "admin:inventory_account_changelist",
    ),
    "orders": (
        "Import orders (JSON)",
        orders_import,
        "orders.add_order",
        ".json",
        "admin:orders_order_changelist",
    ),
}
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
PENDING_MAX_AGE_SECONDS = 24 * 3600
_SESSION_KEY = "inventory_pending_imports"


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
    list_filter = ("state", "product", "platform", "supplier", "delivery_kind")
    search_fields = ("username", "platform_user_id", "=line__order__order_id")
    list_select_related = ("product", "line__order")
    show_full_result_count = False
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


# --- Imports (uploads with preview) ------------------------------------------------------------
class UploadForm(forms.Form):
    file = forms.FileField()


def _pending_dir() -> Path:
    return Path(settings.IMPORT_UPLOAD_DIR)


def _box() -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in settings.CREDENTIALS_ENCRYPTION_KEYS])


def _pending_cleanup(directory: Path) -> None:
    cutoff = time.time() - PENDING_MAX_AGE_SECONDS
    for stale in directory.glob("*.bin"):
        if stale.stat().st_mtime < cutoff:
            stale.unlink(missing_ok=True)


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "kind",
        "filename",
        "rows_total",
        "rows_created",
        "rows_skipped",
        "actor",
    )
    list_filter = ("kind", "created_at")
    search_fields = ("filename", "sha256")
    readonly_fields = (
        "kind",
        "filename",
        "sha256",
        "rows_total",
        "rows_created",
        "rows_skipped",
        "actor",
        "created_at",
    )
    change_list_template = "admin/inventory/importbatch/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "upload/<str:kind>/",
                self.admin_site.admin_view(self.upload_view),
                name="inventory_importbatch_upload",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {
            "imports": [
                (kind, spec[0]) for kind, spec in IMPORTS.items() if request.user.has_perm(spec[2])
            ]
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def upload_view(self, request: HttpRequest, kind: str) -> HttpResponse:
        if kind not in IMPORTS:
            raise PermissionDenied
        title, service, perm, suffix, done_url = IMPORTS[kind]
        if not request.user.has_perm(perm):
            raise PermissionDenied
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "kind": kind,
            "suffix": suffix,
            "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        }
        if request.method == "POST" and "token" in request.POST:
            return self._confirm(request, kind, service, done_url)
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_UPLOAD_BYTES:
                form.add_error(
                    "file",
                    f"The file is larger than {context['max_mb']} MB; "
                    "import it with the management command.",
                )
            else:
                data = upload.read()
                report = service(
                    source=io.BytesIO(data),
                    filename=upload.name,
                    actor=request.user,
                    now=timezone.now(),
                    dry_run=True,
                )
                context["report"] = report
                if report.ok:
                    context["token"] = self._pending_store(request, kind, upload.name, data)
                return TemplateResponse(request, "admin/inventory/import_preview.html", context)
        context["form"] = form
        return TemplateResponse(request, "admin/inventory/import_form.html", context)

    def _pending_store(self, request: HttpRequest, kind: str, filename: str, data: bytes) -> str:
        directory = _pending_dir()
        directory.mkdir(parents=True, exist_ok=True)
        _pending_cleanup(directory)
        token = secrets.token_urlsafe(24)
        (directory / f"{token}.bin").write_bytes(_box().encrypt(data))
        pending = request.session.get(_SESSION_KEY, {})
        pending[token] = {
            "kind": kind,
            "filename": filename,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        request.session[_SESSION_KEY] = pending
        return token

    def _confirm(
        self, request: HttpRequest, kind: str, service: Callable[..., ImportReport], done_url: str
    ) -> HttpResponse:
        token = request.POST["token"]
        pending = request.session.get(_SESSION_KEY, {})
        entry = pending.pop(token, None)
        request.session[_SESSION_KEY] = pending
        stored = _pending_dir() / f"{token}.bin"
        again = reverse("admin:inventory_importbatch_upload", args=[kind])
        if entry is None or entry["kind"] != kind or not stored.is_file():
            messages.error(
                request, "This preview has expired or was already imported; upload the file again."
            )
            return HttpResponseRedirect(again)
        try:
            data = _box().decrypt(stored.read_bytes())
        except InvalidToken:
            data = b""
        finally:
            stored.unlink(missing_ok=True)
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            messages.error(request, "The stored upload could not be read back; upload it again.")
            return HttpResponseRedirect(again)
        report = service(
            source=io.BytesIO(data),
            filename=entry["filename"],
            actor=request.user,
            now=timezone.now(),
        )
        if not report.ok:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": IMPORTS[kind][0],
                "kind": kind,
                "report": report,
            }
            return TemplateResponse(request, "admin/inventory/import_preview.html", context)
        messages.success(request, report.summary())
        return HttpResponseRedirect(reverse(done_url))
