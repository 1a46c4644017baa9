"""Counts every answer by area and outcome for /metrics (`compensation_http_responses_total`)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from compensation.health.counters import http_answer_observed

ORDER_PAGE_VIEWS = frozenset({"order_page", "order_link_fresh"})
HEALTH_VIEWS = frozenset({"healthz", "metrics"})


def area_of(request: HttpRequest) -> str:
    path = request.path_info
    if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    if path.startswith("/api/"):
        return "api"
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "other"
    if "admin" in match.namespaces:
        return "admin"
    if match.url_name in ORDER_PAGE_VIEWS:
        return "order_page"
    if match.url_name in HEALTH_VIEWS:
        return "health"
    if "compensation" in match.namespaces:
        return "customer"
    return "other"


def count_requests(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        http_answer_observed(area=area_of(request), status_code=response.status_code)
        return response

    return middleware
