"""The review queue: cases the rules could not settle, oldest first, with filters, a summary,
the case page (evidence, claim, decide, re-check, override) and bulk approve / reject.

The admin parses input, calls one service and renders: every write and every claim rule lives
in `compensation.services.review`; the one-case actions are in `case_actions`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from compensation.admin.case_actions import (
    CASE_ACTIONS,
    REVIEW_PERM,
    FormRefused,
    permission_for,
)
from compensation.admin.display import age_display
from compensation.admin.evidence import evidence_view
from compensation.admin.filters import (
    AgeFilter,
    AssignmentFilter,
    PlatformFilter,
    ProductFilter,
    QueueFilter,
    RuleFilter,
)
from compensation.admin.forms import ApproveForm, OverrideForm, RejectForm
from compensation.models import AccountDecision, Decision
from compensation.selectors_backoffice import case_events, review_queue_summary
from compensation.services.review import (
    ReviewConflict,
    claim_holder,
    review_approve,
    review_case_access,
    review_reject,
)


@admin.register(AccountDecision)
class AccountDecisionAdmin(admin.ModelAdmin):
    change_list_template = "admin/compensation/accountdecision/change_list.html"
    change_form_template = "admin/compensation/accountdecision/change_form.html"
    list_display = (
        "id",
        "account_username",
        "platform",
        "product",
        "rule",
        "decision",
        "waiting_since",
        "waiting_for",
        "claim_status",
        "order",
    )
    list_display_links = ("id", "account_username")
    list_filter = (
        QueueFilter,
        AgeFilter,
        ProductFilter,
        PlatformFilter,
        RuleFilter,
        AssignmentFilter,
    )
    search_fields = ("account__username", "request__order__order_id")
    ordering = ("review_requested_at", "id")
    list_select_related = ("account__product", "request__order", "claimed_by")
    actions = ["approve_selected", "reject_selected"]
    list_per_page = 50
    readonly_fields = (
        "request",
        "claim",
        "account",
        "decision",
        "rule",
        "interactions",
        "evidence",
        "decided_at",
        "check_attempts",
        "next_check_at",
        "review_requested_at",
        "reviewed",
        "reviewed_by",
        "reviewed_at",
        "review_note",
        "customer_message",
        "claimed_by",
        "claimed_until",
        "batch",
    )
    fields = readonly_fields

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

    # -- columns
    @admin.display(description="account", ordering="account__username")
    def account_username(self, obj: AccountDecision) -> str:
        return obj.account.username

    @admin.display(description="platform", ordering="account__platform")
    def platform(self, obj: AccountDecision) -> str:
        return obj.account.platform

    @admin.display(description="product")
    def product(self, obj: AccountDecision) -> str:
        return obj.account.product.sku

    @admin.display(description="order")
    def order(self, obj: AccountDecision) -> str:
        return obj.request.order.order_id

    @admin.display(description="in queue since", ordering="review_requested_at")
    def waiting_since(self, obj: AccountDecision) -> Any:
        return obj.review_requested_at

    @admin.display(description="waiting for")
    def waiting_for(self, obj: AccountDecision) -> str:
        if obj.review_requested_at is None or obj.decision != Decision.MANUAL_REVIEW:
            return "—"
        return age_display(timezone.now() - obj.review_requested_at)

    @admin.display(description="claimed")
    def claim_status(self, obj: AccountDecision) -> str:
        if claim_holder(obj, now=timezone.now()) is None or obj.claimed_until is None:
            return "—"
        return f"{obj.claimed_by} until {timezone.localtime(obj.claimed_until):%H:%M}"

    # -- views
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        summary = review_queue_summary(now=timezone.now())
        extra_context = {
            **(extra_context or {}),
            "queue_summary": summary,
            "queue_oldest_age": age_display(summary.oldest_age),
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
            access = review_case_access(decision=obj, actor=request.user, now=timezone.now())
            context.update(
                {
                    "case": obj,
                    "ev": evidence_view(obj),
                    "claimed_by_other": access.claimed_by_other,
                    "claimed_by_me": access.claimed_by_me,
                    "can_decide": access.can_decide,
                    "can_override": access.can_override,
                    "approve_form": ApproveForm(),
                    "reject_form": RejectForm(),
                    "override_form": OverrideForm(),
                    "decide_url": reverse(
                        "admin:compensation_accountdecision_decide", args=[obj.pk]
                    ),
                    "case_events": case_events(
                        request_id=obj.request_id, account_id=obj.account_id
                    ),
                    "show_save": False,
                    "show_save_and_continue": False,
                    "show_save_and_add_another": False,
                    "show_delete": False,
                }
            )
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
        override); the outcome is shown as a message on the case page."""
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
        try:
            level, message = run(request, decision_id, timezone.now())
        except (ReviewConflict, FormRefused, ValueError) as exc:
            level, message = messages.ERROR, str(exc)
        self.message_user(request, message, level)
        return HttpResponseRedirect(
            reverse("admin:compensation_accountdecision_change", args=[decision_id])
        )

    # -- bulk actions (intermediate page for the note / reason)
    def _bulk_form(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        *,
        action: str,
        form: forms.Form,
        title: str,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "cases": queryset.select_related("account", "request__order"),
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/compensation/accountdecision/bulk_decide.html", context
        )

    @admin.action(description="Approve selected cases…", permissions=["review"])
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        form = ApproveForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            ids = list(queryset.values_list("id", flat=True))
            try:
                batches = review_approve(
                    decision_ids=ids,
                    actor=request.user,
                    now=timezone.now(),
                    note=form.cleaned_data["note"],
                )
            except ReviewConflict as exc:
                self.message_user(request, f"Nothing approved: {exc}", messages.ERROR)
                return None
            self.message_user(
                request,
                f"Approved {len(ids)} case(s) in {len(batches)} replacement batch(es).",
                messages.SUCCESS,
            )
            return None
        return self._bulk_form(
            request,
            queryset,
            action="approve_selected",
            form=form,
            title="Approve the selected cases",
        )

    @admin.action(description="Reject selected cases…", permissions=["review"])
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            ids = list(queryset.values_list("id", flat=True))
            try:
                count = review_reject(
                    decision_ids=ids,
                    actor=request.user,
                    now=timezone.now(),
                    customer_message=form.cleaned_data["message"],
                    note=form.cleaned_data["note"],
                )
            except ReviewConflict as exc:
                self.message_user(request, f"Nothing rejected: {exc}", messages.ERROR)
                return None
            self.message_user(request, f"Rejected {count} case(s).", messages.SUCCESS)
            return None
        return self._bulk_form(
            request,
            queryset,
            action="reject_selected",
            form=form,
            title="Reject the selected cases",
        )
