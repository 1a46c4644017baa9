"""The 403 page: says what happened and offers a way back (issue 11: an agent refused a page got
a bare "403 Forbidden" with nowhere to go)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def _back_url(request: HttpRequest) -> str | None:
    """Where the user came from, if it is this site and not this very page."""
    referer = request.META.get("HTTP_REFERER", "")
    if not referer or referer == request.build_absolute_uri():
        return None
    if not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return referer


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    admin_home = reverse("admin:index")
    if request.path.startswith(admin_home) and request.user.is_active and request.user.is_staff:
        context = {
            **admin.site.each_context(request),
            "title": "You do not have access to this page",
            "back_url": _back_url(request),
            "admin_home": admin_home,
        }
        return render(request, "admin/403.html", context, status=403)
    return render(request, "403.html", {"back_url": _back_url(request)}, status=403)
