"""The one script of the customer pages, served by the app itself (no static-file server needed,
and a Content-Security-Policy of `script-src 'self'` allows it: the pages carry no inline JS)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET


@require_GET
def site_script(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        render_to_string("compensation/site.js"), content_type="text/javascript; charset=utf-8"
    )
    patch_cache_control(response, public=True, max_age=3600)
    return response
