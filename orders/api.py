"""POST /api/v1/orders: the storefront pushes one order, signed (docs/storefront.md).

Checks in this order: endpoint on (SHOP_API_SECRET set, else 404), rate limit (429), size (413),
signature over the raw body (401, constant-time), JSON (400); then one service call
(`orders.storefront.order_receive`) whose outcome is rendered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from config.ratelimit import window_hit, window_seconds
from orders.storefront import order_receive

# One order is a few kilobytes; an order carrying history accounts maybe a few hundred. Anything
# larger is refused before it is read.
MAX_BODY_BYTES = 256 * 1024
SIGNATURE_PREFIX = "sha256="


def signature_valid(*, secret: str, body: bytes, header: str) -> bool:
    """`header` is "sha256=<hex HMAC-SHA256 of body>"; compared in constant time."""
    expected = SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = header.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(given, expected.encode())


def _has_nul(value: Any) -> bool:
    # PostgreSQL text cannot hold NUL: refuse it as invalid input instead of a 500.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _invalid(messages: list[str]) -> JsonResponse:
    return JsonResponse({"errors": {"__all__": messages}}, status=400)


def _body(request: HttpRequest) -> bytes | None:
    """The raw body, or None when it is over the limit (never read whole in that case)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return None
    try:
        raw = request.body
    except RequestDataTooBig:
        return None
    return raw if len(raw) <= MAX_BODY_BYTES else None


@never_cache
@csrf_exempt  # a machine API authenticated by its signature: no cookies, nothing for CSRF
def order_push(request: HttpRequest) -> JsonResponse:
    secret = settings.SHOP_API_SECRET
    if not secret:
        return JsonResponse({"error": "not found"}, status=404)
    if request.method != "POST":
        response = JsonResponse({"error": "method not allowed"}, status=405)
        response["Allow"] = "POST"
        return response
    rate = settings.SHOP_API_RATE_LIMIT
    if window_hit(request, scope="shop-orders", rate=rate, setting="SHOP_API_RATE_LIMIT"):
        response = JsonResponse({"error": "rate_limited"}, status=429)
        response["Retry-After"] = str(window_seconds(rate, setting="SHOP_API_RATE_LIMIT"))
        return response
    raw = _body(request)
    if raw is None:
        return JsonResponse(
            {"errors": {"__all__": [f"The body is too large (at most {MAX_BODY_BYTES} bytes)."]}},
            status=413,
        )
    header = request.headers.get("X-Signature", "")
    if not header or not signature_valid(secret=secret, body=raw, header=header):
        return JsonResponse({"error": "invalid_signature"}, status=401)
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return _invalid(["not valid UTF-8; send the body as UTF-8"])
    except json.JSONDecodeError as exc:
        return _invalid([f"not valid JSON: {exc.msg} (column {exc.colno})"])
    except (ValueError, RecursionError):
        return _invalid(["not valid JSON"])
    if _has_nul(body):
        return _invalid(["null characters are not allowed"])
    receipt = order_receive(raw=body, now=timezone.now())
    if receipt.outcome == "created":
        return JsonResponse({"order_id": receipt.order_id, "created": True}, status=201)
    if receipt.outcome == "unchanged":
        return JsonResponse({"order_id": receipt.order_id, "created": False}, status=200)
    if receipt.outcome == "conflict":
        return JsonResponse({"error": "conflict", "order_id": receipt.order_id}, status=409)
    if receipt.outcome == "insufficient_stock":
        return JsonResponse(
            {"error": "insufficient_stock", "order_id": receipt.order_id}, status=409
        )
    return _invalid(receipt.errors)


urlpatterns = [path("api/v1/orders", order_push, name="api-order-push")]
