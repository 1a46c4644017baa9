"""Compensation requests in the back office, read-only: what the customer asked, the claim per
line, the decision per account, the replacement batches and the request's audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from compensation.models import AccountDecision, CompensationRequest, LineClaim, ReplacementBatch
from compensation.selectors_backoffice import request_events
from inventory.admin_mixins import ReadOnlyAdminMixin


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class LineClaimInline(ReadOnlyInline):
    model = LineClaim
    fields = ("line", "refusal", "refusal_detail", "uses_compensation")
    readonly_fields = fields


class DecisionInline(ReadOnlyInline):
    model = AccountDecision
    fk_name = "request"
    fields = (
        "case",
        "account",
        "decision",
        "rule",
        "reviewed",
        "reviewed_by",
        "customer_message",
        "batch",
    )
    readonly_fields = fields

    @admin.display(description="case")
    def case(self, obj: AccountDecision) -> str:
        url = reverse("admin:compensation_accountdecision_change", args=[obj.pk])
        return format_html('<a href="{}">#{}</a>', url, obj.pk)


class BatchInline(ReadOnlyInline):
    model = ReplacementBatch
    fields = (
        "id",
        "line",
        "quantity",
        "state",
        "approved_at",
        "delivered_at",
        "unavailable_notified_at",
        "approved_by",
    )
    readonly_fields = fields


@admin.register(CompensationRequest)
class CompensationRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/compensation/compensationrequest/change_form.html"
    list_display = (
        "id",
        "order",
        "email",
        "status",
        "received_at",
        "decided_at",
        "password_change_warning",
    )
    list_filter = ("status", "password_change_warning")
    search_fields = ("order__order_id", "email")
    date_hierarchy = "received_at"
    list_select_related = ("order",)
    fields = (
        "id",
        "order",
        "email",
        "reason",
        "password_change_warning",
        "requested_skus",
        "status",
        "received_at",
        "decided_at",
    )
    readonly_fields = fields
    inlines = [LineClaimInline, DecisionInline, BatchInline]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {})}
        obj = self.get_object(request, object_id)
        if obj is not None:
            context["audit_events"] = request_events(request_id=obj.pk)
        return super().change_view(request, object_id, form_url, extra_context=context)
