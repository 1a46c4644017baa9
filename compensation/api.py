"""The customer JSON API (docs/api.md). Parses input, calls one service, renders the view."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from compensation.forms import ApiSubmissionForm
from compensation.ratelimit import parse_rate, rate_limit_hit
from compensation.selectors import request_view, request_view_json
from compensation.services.submit import OrderNotFound, UnknownLines, request_submit

# A valid body is a few kilobytes (reason 2,000 characters, 50 SKUs of 64): anything far larger
# is refused before it is parsed. The field limits are the web form's (compensation.forms).
MAX_BODY_BYTES = 64 * 1024
NOT_FOUND_MESSAGE = "No order matches this e-mail address and order id."


def _errors(errors: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=400)


@never_cache
@csrf_exempt  # a machine API without cookies or sessions: nothing for CSRF to protect
@require_POST
def submit(request: HttpRequest) -> JsonResponse:
    if rate_limit_hit(request):
        parsed = parse_rate_window()
        response = JsonResponse({"error": _("Too many requests. Try again later.")}, status=429)
        response["Retry-After"] = str(parsed)
        return response
    try:
        raw = request.body
    except RequestDataTooBig:
        raw = None
    if raw is None or len(raw) > MAX_BODY_BYTES:
        return JsonResponse(
            {
                "errors": {
                    "__all__": [
                        _("The body is too large (at most %(n)d bytes).") % {"n": MAX_BODY_BYTES}
                    ]
                }
            },
            status=413,
        )
    try:
        body = json.loads(raw.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError covers JSONDecodeError and integers beyond Python's digit limit;
        # RecursionError a deeply nested body ("[[[[…").
        return _errors({"__all__": [_("The body must be valid JSON.")]})
    if not isinstance(body, dict):
        return _errors({"__all__": [_("The body must be a JSON object.")]})
    form = ApiSubmissionForm(body)
    if not form.is_valid():
        return _errors(form.errors_json())
    data = form.cleaned_data
    try:
        result = request_submit(
            email=data["email"],
            order_id=data["order_id"],
            reason=data["reason"],
            password_change_warning=data["password_change_warning"],
            skus=data["lines"],
            now=timezone.now(),
        )
    except OrderNotFound:
        return JsonResponse({"error": _(NOT_FOUND_MESSAGE)}, status=404)
    except UnknownLines as exc:
        return _errors(
            {"lines": [_("Not a product line of this order: %(s)s") % {"s": ", ".join(exc.skus)}]}
        )
    view = request_view(request_id=result.request.id)
    assert view is not None
    return JsonResponse(request_view_json(view), status=202 if result.created else 200)


def parse_rate_window() -> int:
    parsed = parse_rate(settings.COMPENSATION_RATE_LIMIT)
    return parsed[1] if parsed else 60


@never_cache
@require_GET
def detail(request: HttpRequest, request_id: str) -> JsonResponse:
    try:
        key = uuid.UUID(request_id)
    except ValueError:
        key = None
    view = request_view(request_id=key) if key else None
    if view is None:
        return JsonResponse({"error": _("No such compensation request.")}, status=404)
    return JsonResponse(request_view_json(view))


urlpatterns = [
    path("api/v1/compensation-requests", submit, name="api-request-submit"),
    path("api/v1/compensation-requests/<str:request_id>", detail, name="api-request-detail"),
]
