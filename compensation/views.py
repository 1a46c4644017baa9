"""Customer pages: the compensation form, the result page, and the order page behind a signed link.

Views parse input, call one service or selector, and render. No JavaScript is needed anywhere: the
result page refreshes itself with a meta refresh while checks run.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import cast

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.decorators import decorator_from_middleware
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from compensation.forms import CompensationRequestForm, FreshLinkForm
from compensation.order_page import order_credentials_reveal, order_page_read
from compensation.ratelimit import rate_limit_hit
from compensation.selectors import request_view
from compensation.services.notifications import order_link_resend
from compensation.services.submit import OrderNotFound, UnknownLines, request_submit
from orders.links import order_link_resolve

RESULT_REFRESH_SECONDS = 3
RECHECK_REFRESH_SECONDS = 30


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def _rate_limited(request: HttpRequest) -> HttpResponse:
    response = render(request, "compensation/rate_limited.html", status=429)
    response["Retry-After"] = "60"
    return response


def _private(response: HttpResponse) -> HttpResponse:
    """Pages that show (or could show) an order: never cached, never sent as a referrer."""
    patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


class _NoReferrerCsrfMiddleware(CsrfViewMiddleware):
    """CSRF for forms on `Referrer-Policy: no-referrer` pages.

    Browsers send `Origin: null` (and no Referer) when such a page posts a form, even to its own
    site, so Django's Origin/Referer checks would refuse every legitimate POST. The CSRF token
    check (cookie + form field) still applies in full; only the Origin/Referer comparison accepts
    the "null"/missing values that this policy produces. The order page's URL token is a second
    secret an attacker would also need.
    """

    def _origin_verified(self, request: HttpRequest) -> bool:
        origin_is_null = request.META.get("HTTP_ORIGIN") == "null"
        return origin_is_null or bool(super()._origin_verified(request))  # type: ignore[misc]

    def _check_referer(self, request: HttpRequest) -> None:
        if request.META.get("HTTP_REFERER"):
            super()._check_referer(request)  # type: ignore[misc]


def no_referrer_csrf_protect(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """csrf_protect with the no-referrer allowance above (the global check is skipped).

    Every answer of the wrapped view is `_private`, including the ones produced outside it: a
    CSRF failure (403) and a refused method (405) still carry the token in their URL.
    """
    protected = cast(
        Callable[..., HttpResponse], decorator_from_middleware(_NoReferrerCsrfMiddleware)(view)
    )

    @functools.wraps(view)
    def private(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return _private(protected(request, *args, **kwargs))

    return cast(Callable[..., HttpResponse], csrf_exempt(private))


# --- the form ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def request_form(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(
            request, "compensation/request_form.html", {"form": CompensationRequestForm()}
        )
    if rate_limit_hit(request):
        return _rate_limited(request)
    form = CompensationRequestForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = request_submit(
                email=data["email"],
                order_id=data["order_id"],
                reason=form.reason_text(),
                password_change_warning=data["password_change_warning"],
                skus=data["skus"],
                now=timezone.now(),
            )
        except OrderNotFound:
            # One message and one status for an unknown order and a wrong e-mail (no probing).
            form.add_error(
                None,
                _(
                    "We could not find an order with this number and e-mail address. Please check "
                    "both against your order confirmation."
                ),
            )
            status = 404
        except UnknownLines as exc:
            form.add_error(
                "skus",
                _("These products are not on this order: %(skus)s.")
                % {"skus": ", ".join(exc.skus)},
            )
        else:
            if not result.created:
                messages.info(
                    request,
                    _(
                        "A request for this order is already being checked. Here it is; you can "
                        "send a new one once it is decided."
                    ),
                )
            return HttpResponseSeeOther(
                reverse("compensation:request_result", kwargs={"request_id": result.request.pk})
            )
    return render(request, "compensation/request_form.html", {"form": form}, status=status)


# --- the result page --------------------------------------------------------------------------


@require_http_methods(["GET"])
def request_result(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    view = request_view(request_id=request_id)
    if view is None:
        return render(request, "compensation/request_not_found.html", status=404)
    counts: dict[str, int] = {}
    for line in view.lines:
        for account in line.accounts:
            counts[account.decision] = counts.get(account.decision, 0) + 1
    checking = view.status == "checking"
    # Fast refresh while profiles are being read; slow while only back-off re-checks remain.
    refresh = RESULT_REFRESH_SECONDS if counts.get("pending") else RECHECK_REFRESH_SECONDS
    response = render(
        request,
        "compensation/request_result.html",
        {
            "view": view,
            "counts": counts,
            "checking": checking,
            "refresh_seconds": refresh,
            "any_review": counts.get("manual_review", 0) > 0,
            "any_unverified": counts.get("unverified", 0) > 0,
        },
    )
    # The page names the customer's accounts and changes while checks run: never cache it.
    patch_cache_control(response, private=True, no_store=True, max_age=0)
    return response


# --- the order page ---------------------------------------------------------------------------


@no_referrer_csrf_protect
@require_http_methods(["GET", "POST"])
def order_page(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    link = order_link_resolve(token=token, now=now)
    if link is None:
        return _private(
            render(
                request,
                "compensation/order_page/link_invalid.html",
                {"form": FreshLinkForm()},
                status=404,
            )
        )
    credentials = None
    if request.method == "POST":  # the reveal button (a POST: mail scanners follow GET links)
        with transaction.atomic():
            credentials = order_credentials_reveal(link=link, now=now)
    page = order_page_read(order=link.order, now=now, credentials=credentials)
    return _private(
        render(request, "compensation/order_page/order_page.html", {"page": page, "now": now})
    )


@no_referrer_csrf_protect
@require_http_methods(["GET", "POST"])
def order_link_fresh(request: HttpRequest) -> HttpResponse:
    """Ask for a new order-page link: the answer is the same whether the order exists or not."""
    if request.method != "POST":
        return _private(
            render(request, "compensation/order_page/link_fresh.html", {"form": FreshLinkForm()})
        )
    if rate_limit_hit(request, scope="order-link"):
        return _private(_rate_limited(request))
    form = FreshLinkForm(request.POST)
    if not form.is_valid():
        return _private(
            render(request, "compensation/order_page/link_fresh.html", {"form": form}, status=400)
        )
    order_link_resend(order_id=form.cleaned_data["order_id"], now=timezone.now())
    return _private(render(request, "compensation/order_page/link_sent.html"))
