"""Back-office report pages: supplier and stock quality, and retiring the rest of a bad source.

Admin views (wrapped by `admin.site.admin_view`, so staff login and CSRF apply). They parse the
query, call one selector or service, and render; permissions are checked here and again in the
service that writes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from compensation.csv_export import csv_response
from compensation.quality import (
    CSV_HEADER,
    KEYS,
    failure_rate,
    quality_report,
    weekly_supplier_failure,
)
from compensation.quality_chart import weekly_chart
from inventory.retiring import (
    RETIRE_PERM,
    StockCountChanged,
    StockSource,
    stock_in_source_count,
    stock_retire_source,
)

REPORT_PERM = "inventory.view_account"
PERIODS: dict[str, int | None] = {"30": 30, "90": 90, "365": 365, "all": None}
DEFAULT_PERIOD = "90"
KEY_LABELS = {"supplier": "Supplier", "product": "Product", "import_batch": "Import batch"}


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def quality_report_view(request: HttpRequest) -> HttpResponseBase:
    _require(request, REPORT_PERM)
    by = request.GET.get("by", "supplier")
    by = by if by in KEYS else "supplier"
    period = request.GET.get("days", DEFAULT_PERIOD)
    period = period if period in PERIODS else DEFAULT_PERIOD
    days = PERIODS[period]
    now = timezone.now()
    rows = quality_report(by=by, now=now, days=days)
    if request.GET.get("format") == "csv":
        stamp = now.strftime("%Y%m%d")
        return csv_response(
            filename=f"quality-by-{by}-{period}-{stamp}.csv",
            header=CSV_HEADER,
            rows=(row.csv_row() for row in rows),
        )
    can_retire = request.user.has_perm(RETIRE_PERM) and by in ("supplier", "import_batch")
    delivered = sum(r.delivered for r in rows)
    failed = sum(r.failed for r in rows)
    overall = failure_rate(failed, delivered)
    retire = reverse("backoffice_retire_stock")
    field = "supplier" if by == "supplier" else "import_batch"
    table = [
        {
            "row": r,
            "percent": f"{r.failure_rate * 100:.1f}%",
            # Stands out: at least twice failed and 1.5 times the overall rate or more.
            "stands_out": r.failed >= 2 and r.failure_rate >= overall * Decimal("1.5"),
            "retire_url": (
                f"{retire}?{urlencode({field: r.source})}"
                if can_retire and r.source is not None and r.in_stock
                else None
            ),
        }
        for r in rows
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Supplier and stock quality",
        "table": table,
        "by": by,
        "by_label": KEY_LABELS[by],
        "keys": [(k, KEY_LABELS[k]) for k in KEYS],
        "period": period,
        "periods": [(p, f"last {p} days" if PERIODS[p] else "all time") for p in PERIODS],
        "chart": weekly_chart(weekly_supplier_failure(now=now, days=days)),
        "csv_url": "?" + urlencode({"by": by, "days": period, "format": "csv"}),
        "can_retire": can_retire,
        "totals": {
            "delivered": delivered,
            "failed": failed,
            "percent": f"{overall * 100:.1f}%",
        },
    }
    return TemplateResponse(request, "admin/reports/quality.html", context)


class RetireForm(forms.Form):
    expected = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Why (kept in the audit trail)",
        max_length=500,
        widget=forms.TextInput(attrs={"size": 60}),
    )


def _source(request: HttpRequest) -> StockSource:
    params = request.POST if request.method == "POST" else request.GET
    supplier = params.get("supplier")
    batch = params.get("import_batch")
    try:
        if supplier is not None and batch is None:
            return StockSource(supplier=supplier)
        if batch is not None and supplier is None:
            return StockSource(import_batch_id=int(batch))
    except ValueError:
        pass
    raise PermissionDenied  # a hand-made URL: nothing to retire


def retire_stock_view(request: HttpRequest) -> HttpResponse:
    """GET: how many in-stock accounts the source has, and the confirmation form. POST: retire
    exactly that many (or nothing, if the count moved)."""
    _require(request, RETIRE_PERM)
    source = _source(request)
    count = stock_in_source_count(source=source)
    form = RetireForm(request.POST or None, initial={"expected": count})
    if request.method == "POST" and form.is_valid():
        try:
            retired = stock_retire_source(
                source=source,
                expected=form.cleaned_data["expected"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
                now=timezone.now(),
            )
        except StockCountChanged as exc:
            messages.error(request, str(exc))
            count = exc.actual
            form = RetireForm(initial={"expected": count, "reason": form.cleaned_data["reason"]})
        else:
            messages.success(request, f"Retired {retired} in-stock account(s) of {source.label}.")
            return HttpResponseRedirect(reverse("backoffice_quality_report"))
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": f"Retire the stock of {source.label}",
        "source": source,
        "count": count,
        "form": form,
    }
    return TemplateResponse(request, "admin/reports/retire_stock.html", context)
