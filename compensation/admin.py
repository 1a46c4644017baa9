"""Back office: the review queue, requests with their audit trail, replacement batches (with the
queue per product) and canned rejection reasons.

The admin parses input, calls one service and renders; every write lives in
`compensation.services.review` / `fulfilment`. Nothing here ever shows stock credentials.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from compensation import admin_webhooks  # noqa: F401  (registers the webhook admin)
from compensation.models import (
    AccountDecision,
    CannedReason,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
)
from compensation.selectors_backoffice import (
    fulfilment_queue_per_product,
    request_events,
    review_queue_summary,
)
from compensation.services.review import (
    ReviewConflict,
    decision_override,
    review_approve,
    review_claim,
    review_recheck,
    review_reject,
    review_release,
)
from inventory.models import INTERACTION_KINDS
from orders.admin import ReadOnlyAdminMixin
from orders.models import Event

REVIEW_PERM = "compensation.review_decision"
OVERRIDE_PERM = "compensation.override_decision"


def _age(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


# --- forms -------------------------------------------------------------------------------------


class ApproveForm(forms.Form):
    note = forms.CharField(
        label="Internal note", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class RejectForm(forms.Form):
    canned_reason = forms.ModelChoiceField(
        label="Reason for the customer",
        queryset=CannedReason.objects.filter(active=True),
        required=False,
        empty_label="— write one below —",
    )
    customer_message = forms.CharField(
        label="…or in your own words (shown to the customer)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    note = forms.CharField(
        label="Internal note", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        message = (data.get("customer_message") or "").strip()
        canned = data.get("canned_reason")
        if not message and canned is not None:
            message = canned.text
        if not message:
            raise forms.ValidationError("A rejection needs a reason the customer will read.")
        data["message"] = message
        return data


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the override", widget=forms.Textarea(attrs={"rows": 3})
    )


# --- review queue filters ----------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    """Waiting for review by default; decided cases stay readable."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("waiting", "Waiting for review"),
            ("reviewed", "Decided by staff"),
            ("all", "All decisions"),
        ]

    def choices(self, changelist: ChangeList) -> Any:
        current = self.value() or "waiting"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value() or "waiting"
        if value == "waiting":
            return queryset.filter(decision=Decision.MANUAL_REVIEW)
        if value == "reviewed":
            return queryset.filter(reviewed=True)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "waiting for"
    parameter_name = "age"
    DAYS = {"1d": 1, "3d": 3, "7d": 7}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1d", "more than 1 day"), ("3d", "more than 3 days"), ("7d", "more than 7 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        days = self.DAYS.get(self.value() or "")
        if days is None:
            return queryset
        return queryset.filter(review_requested_at__lt=timezone.now() - timedelta(days=days))


class AssignmentFilter(admin.SimpleListFilter):
    title = "claimed"
    parameter_name = "claimed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("mine", "by me"), ("unassigned", "unassigned"), ("others", "by others")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        active = Q(claimed_by__isnull=False, claimed_until__gt=now)
        value = self.value()
        if value == "mine":
            return queryset.filter(active, claimed_by=request.user)
        if value == "unassigned":
            return queryset.exclude(active)
        if value == "others":
            return queryset.filter(active).exclude(claimed_by=request.user)
        return queryset


class RuleFilter(admin.SimpleListFilter):
    title = "rule"
    parameter_name = "rule"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        rules = (
            AccountDecision.objects.exclude(rule="")
            .order_by("rule")
            .values_list("rule", flat=True)
            .distinct()
        )
        return [(r, r) for r in rules]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(rule=self.value()) if self.value() else queryset


class PlatformFilter(admin.SimpleListFilter):
    title = "platform"
    parameter_name = "platform"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from inventory.models import Platform

        return list(Platform.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(account__platform=self.value()) if self.value() else queryset


class ProductFilter(admin.SimpleListFilter):
    title = "product"
    parameter_name = "product"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from inventory.models import Product

        return [(str(p.id), p.sku) for p in Product.objects.order_by("sku")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(account__product_id=self.value()) if self.value() else queryset


# --- evidence for the review page ----------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def evidence_view(decision: AccountDecision) -> dict[str, Any]:
    """Baseline vs observation, read defensively from the evidence the rules wrote (older or
    partial evidence falls back to the account's stored baseline)."""
    evidence = _dict(decision.evidence)
    account = decision.account
    baseline = _dict(evidence.get("baseline"))
    observation = _dict(evidence.get("observation"))
    base_inter = _dict(baseline.get("interactions")) or account.baseline_interactions
    obs_inter = _dict(observation.get("interactions"))
    deltas = _dict(_dict(evidence.get("interactions")).get("deltas"))
    rows = [
        {
            "label": "username",
            "baseline": baseline.get("username", account.username),
            "observation": observation.get("username"),
            "delta": None,
        },
        {
            "label": "platform user id",
            "baseline": baseline.get("user_id", account.platform_user_id or None),
            "observation": observation.get("user_id"),
            "delta": None,
        },
        {
            "label": "state",
            "baseline": "delivered",
            "observation": observation.get("state"),
            "delta": None,
        },
        {
            "label": "followers",
            "baseline": baseline.get("followers", account.baseline_followers),
            "observation": observation.get("followers"),
            "delta": None,
        },
    ]
    for kind in INTERACTION_KINDS:
        rows.append(
            {
                "label": kind,
                "baseline": base_inter.get(kind),
                "observation": obs_inter.get(kind),
                "delta": deltas.get(kind),
            }
        )
    request = decision.request
    order_age = None
    if request is not None and request.order is not None:
        order_age = request.received_at - request.order.placed_at
    interactions = _dict(evidence.get("interactions"))
    return {
        "rows": rows,
        "observation_missing": not observation,
        "interactions_total": interactions.get("total", decision.interactions),
        "interactions_complete": interactions.get("complete"),
        "order_age": _age(order_age),
        "rule": decision.rule or evidence.get("rule") or "—",
        "status_error": _dict(evidence.get("status_service")).get("error"),
        "rechecks": [r for r in evidence.get("rechecks", []) if isinstance(r, dict)],
    }


# --- inlines ----------------------------------------------------------------------------------


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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


# --- the review queue --------------------------------------------------------------------------


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
        return _age(timezone.now() - obj.review_requested_at)

    @admin.display(description="claimed")
    def claim_status(self, obj: AccountDecision) -> str:
        if obj.claimed_by_id and obj.claimed_until and obj.claimed_until > timezone.now():
            return f"{obj.claimed_by} until {timezone.localtime(obj.claimed_until):%H:%M}"
        return "—"

    # -- views
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        summary = review_queue_summary(now=timezone.now())
        extra_context = {
            **(extra_context or {}),
            "queue_summary": summary,
            "queue_oldest_age": _age(summary.oldest_age),
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
            now = timezone.now()
            claimed_by_other = bool(
                obj.claimed_by_id
                and obj.claimed_by_id != request.user.pk
                and obj.claimed_until
                and obj.claimed_until > now
            )
            waiting = obj.decision == Decision.MANUAL_REVIEW
            can_review = request.user.has_perm(REVIEW_PERM)
            context.update(
                {
                    "case": obj,
                    "ev": evidence_view(obj),
                    "claimed_by_other": claimed_by_other,
                    "claimed_by_me": bool(
                        obj.claimed_by_id == request.user.pk
                        and obj.claimed_until
                        and obj.claimed_until > now
                    ),
                    "can_decide": waiting and can_review and not claimed_by_other,
                    "can_override": obj.decision == Decision.REJECTED
                    and request.user.has_perm(OVERRIDE_PERM),
                    "approve_form": ApproveForm(),
                    "reject_form": RejectForm(),
                    "override_form": OverrideForm(),
                    "decide_url": reverse(
                        "admin:compensation_accountdecision_decide", args=[obj.pk]
                    ),
                    "case_events": Event.objects.filter(
                        request_id=obj.request_id, account_id=obj.account_id
                    )
                    .select_related("actor")
                    .order_by("at", "id"),
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
        """POST one of: claim, release, approve, reject, recheck, override."""
        if request.method != "POST":
            return HttpResponse(status=405)
        obj = get_object_or_404(AccountDecision, pk=decision_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        action = request.POST.get("action", "")
        required = OVERRIDE_PERM if action == "override" else REVIEW_PERM
        if not request.user.has_perm(required):
            raise PermissionDenied
        now = timezone.now()
        back = reverse("admin:compensation_accountdecision_change", args=[decision_id])
        try:
            if action == "claim":
                review_claim(decision_id=decision_id, actor=request.user, now=now)
                self.message_user(request, "You hold this case now.", messages.SUCCESS)
            elif action == "release":
                review_release(decision_id=decision_id, actor=request.user, now=now)
                self.message_user(request, "Case released.", messages.SUCCESS)
            elif action == "approve":
                form = ApproveForm(request.POST)
                form.is_valid()
                review_approve(
                    decision_ids=[decision_id],
                    actor=request.user,
                    now=now,
                    note=form.cleaned_data.get("note", ""),
                )
                self.message_user(
                    request, "Approved: a replacement is on its way.", messages.SUCCESS
                )
            elif action == "reject":
                form_r = RejectForm(request.POST)
                if not form_r.is_valid():
                    problems = " ".join(str(e) for e in form_r.non_field_errors())
                    self.message_user(request, problems or "Invalid form.", messages.ERROR)
                    return HttpResponseRedirect(back)
                review_reject(
                    decision_ids=[decision_id],
                    actor=request.user,
                    now=now,
                    customer_message=form_r.cleaned_data["message"],
                    note=form_r.cleaned_data.get("note", ""),
                )
                self.message_user(request, "Rejected.", messages.SUCCESS)
            elif action == "recheck":
                entry = review_recheck(decision_id=decision_id, actor=request.user, now=now)
                state = (entry.get("observation") or {}).get("state")
                self.message_user(
                    request,
                    f"Status re-checked: {state or 'unavailable'}"
                    + (f" ({entry['error']})" if entry.get("error") else ""),
                    messages.INFO,
                )
            elif action == "override":
                form_o = OverrideForm(request.POST)
                if not form_o.is_valid():
                    self.message_user(request, "An override needs a reason.", messages.ERROR)
                    return HttpResponseRedirect(back)
                decision_override(
                    decision_id=decision_id,
                    actor=request.user,
                    now=now,
                    reason=form_o.cleaned_data["reason"],
                )
                self.message_user(
                    request, "Override issued: a replacement is on its way.", messages.SUCCESS
                )
            else:
                return HttpResponse("unknown action", status=400)
        except ReviewConflict as exc:
            self.message_user(request, str(exc), messages.ERROR)
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(back)

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


# --- requests ----------------------------------------------------------------------------------


@admin.register(CompensationRequest)
class CompensationRequestAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

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


# --- replacement batches (and the queue per product) ------------------------------------------


@admin.register(ReplacementBatch)
class ReplacementBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/compensation/replacementbatch/change_list.html"
    list_display = (
        "id",
        "product",
        "quantity",
        "state",
        "approved_at",
        "delivered_at",
        "unavailable_notified_at",
        "order",
        "request_link",
    )
    list_filter = ("state", "product")
    ordering = ("approved_at", "id")
    list_select_related = ("product", "line__order")
    fields = (
        "line",
        "product",
        "request",
        "quantity",
        "state",
        "approved_at",
        "approved_by",
        "delivered_at",
        "unavailable_notified_at",
    )
    readonly_fields = fields

    @admin.display(description="order")
    def order(self, obj: ReplacementBatch) -> str:
        return obj.line.order.order_id

    @admin.display(description="request")
    def request_link(self, obj: ReplacementBatch) -> str:
        url = reverse("admin:compensation_compensationrequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.request_id)[:8])

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        now = timezone.now()
        queue = [
            {
                "q": q,
                "waiting_for": _age(now - q.oldest_approved_at if q.oldest_approved_at else None),
            }
            for q in fulfilment_queue_per_product()
        ]
        extra_context = {**(extra_context or {}), "product_queue": queue}
        return super().changelist_view(request, extra_context=extra_context)


# --- canned reasons (managers) -----------------------------------------------------------------


@admin.register(CannedReason)
class CannedReasonAdmin(admin.ModelAdmin):
    list_display = ("id", "text", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("text",)
