"""The review queue: cases the rules could not settle, oldest first, with filters, search, a
summary, the case page (evidence, customer history, claim, decide — and open the next case —,
re-check, override); bulk approve / reject and the CSV export are in `queue_actions`.

The columns fit a 1,280 px screen: age (coloured against REVIEW_SLA_HOURS), account, product,
order, customer e-mail, rule, who holds the case. The admin parses input, calls one service and
renders: every write and every claim rule lives in `compensation.services.review`; the one-case
actions are in `case_actions`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from compensation.admin.case_actions import (
    CASE_ACTIONS,
    REVIEW_PERM,
    FormRefused,
    permission_for,
)
from compensation.admin.case_page import case_page_context
from compensation.admin.display import age_display
from compensation.admin.filters import (
    AgeFilter,
    AssignmentFilter,
    PlatformFilter,
    ProductFilter,
    QueueFilter,
    RuleFilter,
)
from compensation.admin.queue_actions import QueueActionsMixin
from compensation.admin.queue_lists import QueueListPerformanceMixin
from compensation.models import AccountDecision, Decision
from compensation.selectors_backoffice import review_queue_summary
from compensation.services.review import ReviewConflict, claim_holder, review_claim_next
from inventory.admin_mixins import when_display


@admin.register(AccountDecision)
class AccountDecisionAdmin(QueueListPerformanceMixin, QueueActionsMixin, admin.ModelAdmin):
    change_list_template = "admin/compensation/accountdecision/change_list.html"
    change_form_template = "admin/compensation/accountdecision/change_form.html"
    list_display = (
        "account_username",
        "waiting_for",
        "product",
        "order",
        "customer_email",
        "rule_code",
        "claimed_by_name",
    )
    list_display_links = ("account_username",)
    list_filter = (
        QueueFilter,
        AgeFilter,
        ProductFilter,
        PlatformFilter,
        RuleFilter,
        AssignmentFilter,
    )
    search_fields = (
        "request__order__email",
        "request__email",
        "request__order__order_id",
        "account__username",
        "claimed_by__username",
    )
    search_help_text = "Customer e-mail, order id, account username or the agent holding a case."
    ordering = ("review_requested_at", "id")
    list_select_related = ("account__product", "request__order", "claimed_by")
    actions = ["approve_selected", "reject_selected", "export_csv"]
    list_per_page = 50
    readonly_fields = (
        "request",
        "account",
        "review_requested_at",
        "decided_at",
        "check_attempts",
        "reviewed_by",
        "reviewed_at",
        "customer_message",
        "review_note",
        "claimed_by",
        "claimed_until",
        "batch",
    )
    # The page above the form shows what an agent needs; the record stays one click away.
    fieldsets = [("The full record", {"fields": readonly_fields, "classes": ["collapse"]})]

    # -- permissions
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Decided cases are read-only: staff can view them, nobody can change them.
        if obj is not None and obj.decision != Decision.MANUAL_REVIEW:
            return False
        return super().has_change_permission(request, obj)

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVIEW_PERM)

    def get_list_display(self, request: HttpRequest) -> Any:
        # Outside the waiting queue, the decision is what one looks for.
        if request.GET.get(QueueFilter.parameter_name, "waiting") != "waiting":
            return (*self.list_display[:-1], "decision", self.list_display[-1])
        return self.list_display

    # -- columns (each short enough for the queue to fit 1,280 px without scrolling)
    @admin.display(description="account", ordering="account__username")
    def account_username(self, obj: AccountDecision) -> str:
        return obj.account.username

    @admin.display(description="waiting", ordering="review_requested_at")
    def waiting_for(self, obj: AccountDecision) -> str:
        if obj.review_requested_at is None or obj.decision != Decision.MANUAL_REVIEW:
            return "—"
        age = timezone.now() - obj.review_requested_at
        sla = timedelta(hours=settings.REVIEW_SLA_HOURS)
        level = "sla-breach" if age > sla else "sla-near" if age > sla * 3 / 4 else "sla-ok"
        return format_html(
            '<span class="age {}" title="in the queue since {}">{}</span>',
            level,
            when_display(obj.review_requested_at),
            age_display(age),
        )

    @admin.display(description="product", ordering="account__product__sku")
    def product(self, obj: AccountDecision) -> str:
        product = obj.account.product
        return format_html('<span title="{}">{}</span>', product.name, product.sku)

    @admin.display(description="order", ordering="request__order__order_id")
    def order(self, obj: AccountDecision) -> str:
        return obj.request.order.order_id

    @admin.display(description="customer", ordering="request__order__email")
    def customer_email(self, obj: AccountDecision) -> str:
        return format_html('<span class="email">{}</span>', obj.request.order.email)

    @admin.display(description="rule", ordering="rule")
    def rule_code(self, obj: AccountDecision) -> str:
        # Long codes may wrap after an underscore instead of widening the table.
        parts = (obj.rule or "—").split("_")
        return format_html_join(mark_safe("_<wbr>"), "{}", ((p,) for p in parts))

    @admin.display(description="held by")
    def claimed_by_name(self, obj: AccountDecision) -> str:
        if claim_holder(obj, now=timezone.now()) is None or obj.claimed_by is None:
            return "—"
        until = formats.time_format(timezone.localtime(obj.claimed_until), "TIME_FORMAT")
        return f"{obj.claimed_by.get_username()} until {until}"

    # -- views
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        summary = review_queue_summary(now=timezone.now())
        extra_context = {
            "title": "Review queue",
            **(extra_context or {}),
            "queue_summary": summary,
            "queue_oldest_age": age_display(summary.oldest_age),
            "queue_oldest_since": when_display(summary.oldest_requested_at),
            "sla_hours": settings.REVIEW_SLA_HOURS,
        }
        return super().changelist_view(request, extra_context=extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        context: dict[str, Any] = {**(extra_context or {})}
        if obj is not None:
            context.update(case_page_context(request, obj))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self) -> list[Any]:
        custom = [
            path(
                "<int:decision_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="compensation_accountdecision_decide",
            ),
        ]
        return custom + super().get_urls()

    def decide_view(self, request: HttpRequest, decision_id: int) -> HttpResponse:
        """POST `action` = one of `CASE_ACTIONS` (claim, release, approve, reject, recheck,
        override); the outcome is shown as a message. With `then=next` after an approval or a
        rejection, the agent goes on to the next case in queue order (claimed for them)."""
        if request.method != "POST":
            return HttpResponse(status=405)
        obj = get_object_or_404(AccountDecision, pk=decision_id)
        action = request.POST.get("action", "")
        if not self.has_view_or_change_permission(request, obj) or not request.user.has_perm(
            permission_for(action)
        ):
            raise PermissionDenied
        run = CASE_ACTIONS.get(action)
        if run is None:
            return HttpResponse("unknown action", status=400)
        decided = False
        try:
            level, message = run(request, decision_id, timezone.now())
            decided = action in ("approve", "reject")
        except (ReviewConflict, FormRefused, ValueError) as exc:
            level, message = messages.ERROR, str(exc)
        self.message_user(request, message, level)
        if decided and request.POST.get("then") == "next":
            return self._open_next(request, decision_id)
        return HttpResponseRedirect(
            reverse("admin:compensation_accountdecision_change", args=[decision_id])
        )

    def _open_next(self, request: HttpRequest, decided_id: int) -> HttpResponse:
        next_id = review_claim_next(
            after_decision_id=decided_id, actor=request.user, now=timezone.now()
        )
        if next_id is None:
            self.message_user(request, "No more cases are waiting for you.", messages.INFO)
            return HttpResponseRedirect(reverse("admin:compensation_accountdecision_changelist"))
        return HttpResponseRedirect(
            reverse("admin:compensation_accountdecision_change", args=[next_id])
        )
