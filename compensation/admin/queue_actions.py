"""The review queue's actions on a selection: approve or reject in bulk (an intermediate page
asks for the note or the reason), and export as CSV. Mixed into `AccountDecisionAdmin`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils import timezone

from compensation.admin.forms import ApproveForm, RejectForm
from compensation.csv_export import csv_response
from compensation.exports import QUEUE_HEADER, queue_rows
from compensation.services.review import ReviewConflict, review_approve, review_reject


class QueueActionsMixin:
    """Bulk decisions and the CSV export (needs `admin.ModelAdmin` beside it)."""

    def _bulk_form(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        *,
        action: str,
        form: forms.Form,
        title: str,
        button: str,
    ) -> TemplateResponse:
        admin_self: Any = self
        context = {
            **admin_self.admin_site.each_context(request),
            "title": title,
            "opts": admin_self.model._meta,
            "form": form,
            "cases": queryset.select_related("account__product", "request__order").order_by(
                "review_requested_at", "id"
            ),
            "action": action,
            "button": button,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/compensation/accountdecision/bulk_decide.html", context
        )

    @admin.action(description="Approve selected cases…", permissions=["review"])
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        admin_self: Any = self
        form = ApproveForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            ids = list(queryset.values_list("id", flat=True))
            try:
                batches = review_approve(
                    decision_ids=ids,
                    actor=request.user,
                    now=timezone.now(),
                    note=form.cleaned_data["note"],
                    customer_message=form.cleaned_data["customer_message"],
                )
            except ReviewConflict as exc:
                admin_self.message_user(request, f"Nothing approved: {exc}", messages.ERROR)
                return None
            admin_self.message_user(
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
            button="Approve these cases",
        )

    @admin.action(description="Reject selected cases…", permissions=["review"])
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        admin_self: Any = self
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
                admin_self.message_user(request, f"Nothing rejected: {exc}", messages.ERROR)
                return None
            admin_self.message_user(request, f"Rejected {count} case(s).", messages.SUCCESS)
            return None
        return self._bulk_form(
            request,
            queryset,
            action="reject_selected",
            form=form,
            title="Reject the selected cases",
            button="Reject these cases",
        )

    @admin.action(description="Export selected cases as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponseBase:
        now = timezone.now()
        return csv_response(
            filename=f"review-queue-{now:%Y%m%d-%H%M}.csv",
            header=QUEUE_HEADER,
            rows=queue_rows(queryset, now=now),
        )
