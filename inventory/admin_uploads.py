"""Back office imports: the three imports offered as uploads with a preview.

The file is validated (a dry run of the very service the commands use), every error is shown,
and only a confirmation imports it. Between preview and confirmation the upload is kept
encrypted on disk (it may hold passwords).

Each app registers its own import (`import_upload_register`): inventory its products and stock
here, orders its orders in orders/admin.py, so inventory never imports orders.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from .admin_mixins import ReadOnlyAdminMixin
from .import_rows import ImportReport
from .importing import products_import, stock_import
from .models import ImportBatch

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
PENDING_MAX_AGE_SECONDS = 24 * 3600
_SESSION_KEY = "inventory_pending_imports"


@dataclass(frozen=True)
class ImportUpload:
    title: str
    service: Callable[..., ImportReport]
    permission: str  # needed to upload
    suffix: str  # accepted file suffix
    done_url: str  # URL name to go to afterwards


# kind -> upload, in the order the import page lists them.
IMPORTS: dict[str, ImportUpload] = {}


def import_upload_register(kind: str, upload: ImportUpload) -> None:
    """Offer an import service as an upload on the import page (call from an app's admin.py)."""
    IMPORTS[kind] = upload


import_upload_register(
    "products",
    ImportUpload(
        title="Import products (CSV: sku,name,platform)",
        service=products_import,
        permission="inventory.add_product",
        suffix=".csv",
        done_url="admin:inventory_product_changelist",
    ),
)
import_upload_register(
    "stock",
    ImportUpload(
        title="Import stock accounts (CSV)",
        service=stock_import,
        permission="inventory.add_account",
        suffix=".csv",
        done_url="admin:inventory_account_changelist",
    ),
)


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
class ImportBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
                (kind, spec.title)
                for kind, spec in IMPORTS.items()
                if request.user.has_perm(spec.permission)
            ]
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def upload_view(self, request: HttpRequest, kind: str) -> HttpResponse:
        if kind not in IMPORTS:
            raise PermissionDenied
        spec = IMPORTS[kind]
        title, service, suffix, done_url = spec.title, spec.service, spec.suffix, spec.done_url
        if not request.user.has_perm(spec.permission):
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
                "title": IMPORTS[kind].title,
                "kind": kind,
                "report": report,
            }
            return TemplateResponse(request, "admin/inventory/import_preview.html", context)
        messages.success(request, report.summary())
        return HttpResponseRedirect(reverse(done_url))
