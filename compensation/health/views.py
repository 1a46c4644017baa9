"""GET /healthz (public, for load balancers and monitors) and GET /metrics (Prometheus, behind
METRICS_TOKEN). Both are read-only, never cached, and carry no secret."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from compensation.health.checks import run_checks
from compensation.health.metrics import render


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    scope = "web" if request.GET.get("scope") == "web" else "all"
    report = run_checks(now=timezone.now(), scope=scope)
    return JsonResponse(report.body(), status=200 if report.ok else 503)


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {token}"
    return hmac.compare_digest(given.encode(), expected.encode())


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404  # off unless the operator set a token
    if not _authorized(request):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render(now=timezone.now()), content_type=CONTENT_TYPE_LATEST)
