"""Compensation requests in the back office, read-only: what the customer asked, a summary of
its accounts (waiting for a person / approved / rejected / delivered), the claim per line, the
decision per account, the replacement batches and the request's audit trail; the order link can
be e-mailed again from here, and requests exported as CSV.

The list's "state" is for people (being checked / waiting for a person / done); the API's
`status` keeps the meaning docs/api.md gives it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from compensation.admin.intake import InboundMessageInline
from compensation.admin.order_links import RESEND_PERM
from compensation.csv_export import csv_response
from compensation.exports import (
    REQUESTS_HEADER,
    request_decision_counts,
    request_state,
    requests_rows,
)
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    LineClaim,
    Notification,
    ReplacementBatch,
)
from compensation.selectors_backoffice import request_events, request_summary
from inventory.admin_mixins import BoundedInlineMixin, ReadOnlyAdminMixin
from orders.models import Order

# The request page shows the first events of its audit trail; the full trail is one click away.
AUDIT_EVENTS_SHOWN = 100


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class LineClaimInline(ReadOnlyInline):
    model = LineClaim
    fields = ("line", "refusal", "refusal_detail", "uses_compensation")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        # A claim's line reads "order / sku × n": its order and product come with it.
        return super().get_queryset(request).select_related("line__order", "line__product")


class DecisionInline(BoundedInlineMixin, ReadOnlyInline):
    """The first decisions of the request (a 1,000-account order has 1,000); the rest are in the
    review list, filtered to this request."""

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

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            # The batch reads "batch #n: q × sku for order …": its product and order come along.
            .select_related("account", "batch__product", "batch__line__order", "reviewed_by")
            .defer("evidence", "account__credentials_sealed")
        )

    def bounded_full_list_url(self, obj: CompensationRequest) -> str:
        return (
            reverse("admin:compensation_accountdecision_changelist")
            + "?"
            + urlencode({"request__id__exact": str(obj.pk), "queue": "all"})
        )

    @admin.display(description="case")
    def case(self, obj: AccountDecision) -> str:
        url = reverse("admin:compensation_accountdecision_change", args=[obj.pk])
        return format_html('<a href="{}">#{}</a>', url, obj.pk)


class BatchInline(BoundedInlineMixin, ReadOnlyInline):
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

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            .select_related("product", "line__order", "line__product", "approved_by")
        )

    def bounded_full_list_url(self, obj: CompensationRequest) -> str:
        return (
            reverse("admin:compensation_replacementbatch_changelist")
            + "?"
            + urlencode({"request__id__exact": str(obj.pk)})
        )


class NotificationInline(ReadOnlyInline):
    """The customer's e-mails about this request: a failed one says so ("E-mail failed")."""

    model = Notification
    fk_name = "request"
    verbose_name = "e-mail to the customer"
    verbose_name_plural = "e-mails to the customer"
    fields = ("kind", "state", "attempts", "last_error", "created_at", "sent_at", "failed_at")
    readonly_fields = fields


class EmailFailedFilter(admin.SimpleListFilter):
    title = "e-mail"
    parameter_name = "email_failed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "E-mail failed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(email_failed=True)
        return queryset


@admin.register(CompensationRequest)
class CompensationRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/compensation/compensationrequest/change_form.html"
    list_display = (
        "order",
        "customer",
        "received_at",
        "state",
        "accounts",
        "password_change_warning",
        "email_state",
    )
    list_display_links = ("order",)
    # A date filter rather than a date hierarchy (whose year list is a whole-table DISTINCT).
    list_filter = ("status", "password_change_warning", EmailFailedFilter, "received_at")
    # An exact order id or e-mail (see get_search_results): each found through an index.
    search_fields = ("order__order_id", "email", "order__email")
    search_help_text = "Order id or customer e-mail, exactly."
    actions = ["export_csv"]
    list_select_related = ("order",)
    show_full_result_count = False
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
    inlines = [
        LineClaimInline,
        DecisionInline,
        BatchInline,
        NotificationInline,
        InboundMessageInline,
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CompensationRequest]:
        failed = Notification.objects.filter(
            request_id=OuterRef("pk"), state=Notification.State.FAILED
        )
        queryset = super().get_queryset(request).annotate(email_failed=Exists(failed))
        return request_decision_counts(queryset)

    @admin.display(description="e-mail", ordering="email_failed")
    def email_state(self, obj: CompensationRequest) -> str:
        return "E-mail failed" if getattr(obj, "email_failed", False) else ""

    @admin.display(description="customer", ordering="order__email")
    def customer(self, obj: CompensationRequest) -> str:
        return obj.order.email

    @admin.display(description="state")
    def state(self, obj: Any) -> str:
        return request_state(
            {
                "pending": obj.n_pending,
                "unverified": obj.n_unverified,
                "manual_review": obj.n_review,
            }
        )

    @admin.display(description="accounts")
    def accounts(self, obj: Any) -> str:
        parts = [
            (obj.n_review, "waiting"),
            (obj.n_approved, "approved"),
            (obj.n_rejected, "rejected"),
            (obj.n_pending + obj.n_unverified, "being checked"),
        ]
        return ", ".join(f"{n} {label}" for n, label in parts if n) or "—"

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    @admin.action(description="Export selected requests as CSV", permissions=["export"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[CompensationRequest]
    ) -> HttpResponseBase:
        return csv_response(
            filename=f"requests-{timezone.now():%Y%m%d-%H%M}.csv",
            header=REQUESTS_HEADER,
            rows=requests_rows(queryset),
        )

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
            events = request_events(request_id=obj.pk)
            shown = list(events[: AUDIT_EVENTS_SHOWN + 1])
            context["audit_events"] = shown[:AUDIT_EVENTS_SHOWN]
            if len(shown) > AUDIT_EVENTS_SHOWN:
                context["audit_events_url"] = (
                    reverse("admin:inventory_event_changelist") + f"?request_id={obj.pk}"
                )
            context["summary"] = request_summary(request_id=obj.pk)
            if request.user.has_perm(RESEND_PERM):
                context["resend_url"] = reverse(
                    "admin:orders_order_resend_link", args=[obj.order_id]
                )
            context["order_url"] = reverse("admin:orders_order_change", args=[obj.order_id])
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Each word is an order id or an e-mail address (the request's or the order's), matched
        exactly and case-insensitively through the UPPER() indexes: one lookup of the orders,
        then one indexed filter here."""
        for term in search_term.split():
            orders = Order.objects.filter(
                Q(order_id__iexact=term) | Q(email__iexact=term)
            ).values_list("pk", flat=True)
            queryset = queryset.filter(Q(order_id__in=list(orders)) | Q(email__iexact=term))
        return queryset, False
