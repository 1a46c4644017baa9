"""The customer JSON API (interfaces.md §3). Parses input, calls one service, renders the view."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from compensation.db_retry import RETRY_AFTER_SECONDS, DatabaseUnavailable, with_connection_retry
from compensation.ratelimit import parse_rate, rate_limit_hit
from compensation.selectors import RequestView, request_view, request_view_json
from compensation.services.requests import (
    OrderNotFound,
    SubmitResult,
    UnknownLines,
    request_submit,
)
from inventory.validation import storable_text, text_problem

MAX_REASON = 2000
MAX_EMAIL = 254  # the e-mail field of an order
MAX_SKU = 64  # Product.sku
MAX_LINES = 50  # as many product codes as the web form accepts
# A valid body is a few kilobytes (reason 2,000 characters, 50 SKUs of 64): anything far larger
# is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024
NOT_FOUND_MESSAGE = "No order matches this e-mail address and order id."


def _errors(errors: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=400)


def _has_nul(value: str) -> bool:
    # PostgreSQL text cannot hold NUL (nor unpaired surrogates, which JSON's \ud800 escapes
    # produce): refuse them here with a field error instead of a 500.
    return text_problem(value) is not None


UNSTORABLE_MESSAGE = "Null characters and invalid Unicode are not allowed."


def parse_submission(body: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate the request body; returns (clean data, field errors)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(body, dict):
        return {}, {"__all__": [_("The body must be a JSON object.")]}
    clean: dict[str, Any] = {}

    email = body.get("email")
    if not isinstance(email, str) or not email.strip():
        errors["email"] = [_("This field is required.")]
    elif len(email.strip()) > MAX_EMAIL:
        errors["email"] = [_("An e-mail address has at most %(n)d characters.") % {"n": MAX_EMAIL}]
    else:
        try:
            validate_email(email.strip())
        except ValidationError:
            errors["email"] = [_("Enter a valid e-mail address.")]
        else:
            if _has_nul(email):  # e.g. an unpaired surrogate in the domain passes the validator
                errors["email"] = [_(UNSTORABLE_MESSAGE)]
            else:
                clean["email"] = email.strip()

    order_id = body.get("order_id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if not isinstance(order_id, str) or not order_id.strip():
        errors["order_id"] = [_("This field is required.")]
    elif len(order_id.strip()) > 64:
        errors["order_id"] = [_("An order id has at most 64 characters.")]
    elif _has_nul(order_id):
        errors["order_id"] = [_(UNSTORABLE_MESSAGE)]
    else:
        clean["order_id"] = order_id.strip()

    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = [_("Tell us briefly what happened.")]
    elif len(reason) > MAX_REASON:
        errors["reason"] = [_("At most %(n)d characters.") % {"n": MAX_REASON}]
    elif _has_nul(reason):
        errors["reason"] = [_(UNSTORABLE_MESSAGE)]
    else:
        clean["reason"] = reason.strip()

    warning = body.get("password_change_warning", False)
    if not isinstance(warning, bool):
        errors["password_change_warning"] = [_("Must be true or false.")]
    else:
        clean["password_change_warning"] = warning

    lines = body.get("lines")
    if lines is None:
        clean["lines"] = []
    elif not isinstance(lines, list) or not all(isinstance(s, str) and s.strip() for s in lines):
        errors["lines"] = [_("Must be a list of product SKUs.")]
    elif len(lines) > MAX_LINES:
        errors["lines"] = [_("Please list at most %(n)d products.") % {"n": MAX_LINES}]
    elif any(len(s.strip()) > MAX_SKU or _has_nul(s) for s in lines):
        errors["lines"] = [
            _("A product SKU has at most %(n)d characters, no null characters or invalid Unicode.")
            % {"n": MAX_SKU}
        ]
    else:
        clean["lines"] = [s.strip() for s in lines]

    unknown = sorted(
        set(body) - {"email", "order_id", "reason", "password_change_warning", "lines"}
    )
    if unknown:
        names = ", ".join(storable_text(name) for name in unknown)
        errors["__all__"] = [_("Unknown field(s): %(f)s") % {"f": names}]
    return clean, errors


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
    data, errors = parse_submission(body)
    if errors:
        return _errors(errors)
    now = timezone.now()

    def submit_and_read() -> tuple[SubmitResult, RequestView]:
        result = request_submit(
            email=data["email"],
            order_id=data["order_id"],
            reason=data["reason"],
            password_change_warning=data["password_change_warning"],
            skus=data["lines"],
            now=now,
        )
        view = request_view(request_id=result.request.id)
        assert view is not None
        return result, view

    try:
        # A second run after a dropped connection finds the request the first one committed.
        result, view = with_connection_retry(submit_and_read)
    except OrderNotFound:
        return JsonResponse({"error": _(NOT_FOUND_MESSAGE)}, status=404)
    except UnknownLines as exc:
        return _errors(
            {"lines": [_("Not a product line of this order: %(s)s") % {"s": ", ".join(exc.skus)}]}
        )
    except DatabaseUnavailable:
        response = JsonResponse(
            {"error": _("We cannot take requests at this moment. Please try again shortly.")},
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse(request_view_json(view), status=202 if result.created else 200)


def parse_rate_window() -> int:
    from django.conf import settings

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
