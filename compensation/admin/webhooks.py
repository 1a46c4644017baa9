"""Back office for webhooks (managers): endpoints (secret shown once), deliveries with every
attempt, "send again" and "resume". Parses input, calls one service of
`compensation.webhooks.endpoints`, renders. Registered by `compensation/admin/__init__.py`."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.cache import never_cache

from compensation.models_webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from compensation.webhooks.endpoints import (
    EndpointInvalid,
    events_clean,
    url_clean,
    webhook_deliveries_resend,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_resume,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from inventory.admin_mixins import ReadOnlyAdminMixin

SHOW_ONCE_PAGE = "admin/compensation/webhookendpoint/secret_once.html"


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(WebhookEvent.values),
        help_text="The events sent to this URL.",
    )
    secret = forms.CharField(
        required=False,
        strip=True,
        help_text="Leave empty to generate one. It is shown once, after saving, and stored "
        "encrypted: nobody can read it here later.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 60}),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "events", "active")

    def clean_url(self) -> str:
        try:
            return url_clean(self.cleaned_data.get("url") or "")
        except EndpointInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_events(self) -> list[str]:
        try:
            return events_clean(self.cleaned_data.get("events") or [])
        except EndpointInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ("at", "status_code", "error", "response_excerpt", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("compensation.view_webhookdelivery")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = (
        "url",
        "health",
        "active",
        "event_list",
        "last_success_at",
        "failing_since",
        "pending",
    )
    list_filter = ("active",)
    readonly_fields = (
        "health",
        "paused_at",
        "last_success_at",
        "failing_since",
        "created_at",
        "created_by",
    )
    actions = ["resume_selected"]
    change_form_template = "admin/compensation/webhookendpoint/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                pending_count=Count(
                    "deliveries", filter=Q(deliveries__state=WebhookDelivery.State.PENDING)
                )
            )
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        base = ("url", "events", "active")
        if obj is None:
            return (*base, "secret")
        return (*base, *self.readonly_fields)

    @admin.display(description="state")
    def health(self, obj: WebhookEndpoint) -> str:
        if obj.paused_at is not None:
            return format_html(
                '<strong style="color:#ba2121">paused since {} UTC — resume it once the '
                "receiver works</strong>",
                obj.paused_at.strftime("%Y-%m-%d %H:%M"),
            )
        if not obj.active:
            return "switched off"
        if obj.failing_since is not None:
            return format_html(
                '<span style="color:#b36b00">failing since {} UTC</span>',
                obj.failing_since.strftime("%Y-%m-%d %H:%M"),
            )
        return "ok"

    @admin.display(description="events")
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events or [])

    @admin.display(description="pending deliveries")
    def pending(self, obj: Any) -> int:
        return int(getattr(obj, "pending_count", 0))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        paused = WebhookEndpoint.objects.filter(paused_at__isnull=False).count()
        if paused:
            self.message_user(
                request,
                f"{paused} endpoint(s) paused after failing too long: their events are kept "
                "and go out when you resume them.",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    # -- writes go through the services
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        now = timezone.now()
        try:
            if change:
                webhook_endpoint_update(
                    endpoint_id=obj.pk,
                    url=data["url"],
                    events=data["events"],
                    active=data["active"],
                    actor=request.user,
                    now=now,
                )
                return
            saved = webhook_endpoint_create(
                url=data["url"],
                secret=data.get("secret") or None,
                events=data["events"],
                active=data["active"],
                actor=request.user,
                now=now,
            )
        except EndpointInvalid as exc:
            raise PermissionDenied(str(exc)) from exc
        obj.pk = saved.endpoint.pk
        obj.created_at = saved.endpoint.created_at
        request._webhook_secret_once = saved.secret  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        secret = getattr(request, "_webhook_secret_once", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return self._secret_page(request, obj, secret, created=True)

    def _secret_page(
        self, request: HttpRequest, obj: WebhookEndpoint, secret: str, *, created: bool
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Webhook secret — copy it now",
            "opts": self.model._meta,
            "endpoint": obj,
            "secret": secret,
            "created": created,
            "change_url": reverse("admin:compensation_webhookendpoint_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, SHOW_ONCE_PAGE, context)
        response["Cache-Control"] = "no-store"
        return response

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        webhook_endpoint_delete(endpoint_id=obj.pk, actor=request.user, now=timezone.now())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for pk in list(queryset.values_list("pk", flat=True)):
            webhook_endpoint_delete(endpoint_id=pk, actor=request.user, now=timezone.now())

    @admin.action(description="Resume selected paused endpoints", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        resumed = queued = 0
        for pk in list(queryset.filter(paused_at__isnull=False).values_list("pk", flat=True)):
            queued += webhook_endpoint_resume(
                endpoint_id=pk, actor=request.user, now=timezone.now()
            )
            resumed += 1
        self.message_user(
            request,
            f"Resumed {resumed} endpoint(s); {queued} queued deliveries go out now.",
            messages.SUCCESS,
        )

    # -- buttons on the endpoint's page (POST only)
    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:endpoint_id>/resume/",
                wrap(self.resume_view),
                name="compensation_webhookendpoint_resume",
            ),
            path(
                "<int:endpoint_id>/new-secret/",
                wrap(never_cache(self.new_secret_view)),
                name="compensation_webhookendpoint_new_secret",
            ),
            *super().get_urls(),
        ]

    def _post_with_change_permission(self, request: HttpRequest, endpoint_id: int) -> Any:
        endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
        if request.method != "POST":
            return None
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        return endpoint

    def resume_view(self, request: HttpRequest, endpoint_id: int) -> HttpResponse:
        back = reverse("admin:compensation_webhookendpoint_change", args=[endpoint_id])
        endpoint = self._post_with_change_permission(request, endpoint_id)
        if endpoint is None:
            return HttpResponseRedirect(back)
        queued = webhook_endpoint_resume(
            endpoint_id=endpoint.pk, actor=request.user, now=timezone.now()
        )
        self.message_user(
            request, f"Resumed; {queued} queued deliveries go out now.", messages.SUCCESS
        )
        return HttpResponseRedirect(back)

    def new_secret_view(self, request: HttpRequest, endpoint_id: int) -> HttpResponse:
        back = reverse("admin:compensation_webhookendpoint_change", args=[endpoint_id])
        endpoint = self._post_with_change_permission(request, endpoint_id)
        if endpoint is None:
            return HttpResponseRedirect(back)
        secret = webhook_endpoint_rotate_secret(
            endpoint_id=endpoint.pk, actor=request.user, now=timezone.now()
        )
        return self._secret_page(request, endpoint, secret, created=False)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Deliveries are a record; "send again" is the one thing staff do.
    list_display = (
        "id",
        "event_type",
        "endpoint",
        "request_link",
        "state",
        "attempts",
        "last_answer",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    list_filter = ("state", "event_type", "endpoint")
    list_select_related = ("endpoint",)
    search_fields = ("=event_id", "=request__id")
    date_hierarchy = "created_at"
    fields = (
        "event_id",
        "event_type",
        "endpoint",
        "request_link",
        "state",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_answer",
        "created_at",
        "payload",
    )
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["send_again"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("compensation.change_webhookdelivery")

    @admin.display(description="request")
    def request_link(self, obj: WebhookDelivery) -> str:
        url = reverse("admin:compensation_compensationrequest_change", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, obj.request_id)

    @admin.display(description="last answer")
    def last_answer(self, obj: WebhookDelivery) -> str:
        if obj.last_status_code is not None and not obj.last_error:
            return f"HTTP {obj.last_status_code}"
        return obj.last_error or "—"

    @admin.display(description="payload (exactly as sent)")
    def payload(self, obj: WebhookDelivery) -> str:
        try:
            pretty = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = obj.body
        return format_html("<pre>{}</pre>", pretty)

    @admin.action(description="Send again", permissions=["resend"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        count = webhook_deliveries_resend(
            delivery_ids=list(queryset.values_list("id", flat=True)),
            actor=request.user,
            now=timezone.now(),
        )
        self.message_user(request, f"{count} delivery(ies) queued to be sent again.")
