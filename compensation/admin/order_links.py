"""The order's compensation requests on the order admin page.

`orders` never imports compensation, so the order admin cannot list requests itself: the desk
re-registers it with one more inline (the usual way to extend another app's ModelAdmin), and with
the button that e-mails the customer a fresh order-page link (a compensation e-mail).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from compensation.models import CompensationRequest
from compensation.services.notifications import order_link_resend_by_staff
from inventory.admin_mixins import ReadOnlyAdminMixin
from orders.admin import OrderAdmin
from orders.models import Order


class OrderRequestsInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CompensationRequest
    fields = ("request", "status", "received_at", "decided_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "compensation request"
    verbose_name_plural = "compensation requests"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).order_by("received_at")

    @admin.display(description="request")
    def request(self, obj: CompensationRequest) -> str:
        return format_html(
            "<a href='{}'>{}</a>",
            reverse("admin:compensation_compensationrequest_change", args=[obj.pk]),
            obj.pk,
        )


admin.site.unregister(Order)


RESEND_PERM = "compensation.view_compensationrequest"


@admin.register(Order)
class OrderWithRequestsAdmin(OrderAdmin):
    """The order admin plus its requests and a button to e-mail the customer a fresh link."""

    inlines = (*OrderAdmin.inlines, OrderRequestsInline)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {})}
        if request.user.has_perm(RESEND_PERM) and object_id.isdigit():
            context["resend_url"] = reverse("admin:orders_order_resend_link", args=[int(object_id)])
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:order_pk>/resend-link/",
                self.admin_site.admin_view(self.resend_link_view),
                name="orders_order_resend_link",
            ),
            *super().get_urls(),
        ]

    def resend_link_view(self, request: HttpRequest, order_pk: int) -> HttpResponse:
        """POST: e-mail the order's customer a fresh order-page link; back to `back` (a page of
        this site, e.g. the request page) or to the order."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(RESEND_PERM):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_pk)
        order_link_resend_by_staff(order=order, actor=request.user, now=timezone.now())
        self.message_user(request, f"A new link to order {order} is on its way to {order.email}.")
        back = request.POST.get("back", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:orders_order_change", args=[order.pk])
        return HttpResponseRedirect(back)
