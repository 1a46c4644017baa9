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
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from compensation import tasks
from compensation.db_retry import RETRY_AFTER_SECONDS, DatabaseUnavailable, with_connection_retry
from compensation.forms import CompensationRequestForm, FreshLinkForm
from compensation.order_page import order_credentials_reveal, order_page_read
from compensation.queueing import enqueue_on_commit
from compensation.ratelimit import rate_limit_hit
from compensation.selectors import request_view
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
    """Pages that show (or could show) an order: never cached, never indexed, and their URL (which
    may hold the order-page token) never sent to another site.

    `same-origin`, not `no-referrer`: under `no-referrer` browsers post these pages' own forms with
    `Origin: null`, which a sound CSRF check must refuse. Under `same-origin` the browser sends
    the real Origin to this site and nothing to others; links from a token page carry
    `rel="noreferrer"`, so the token does not travel in a Referer even to this site's other pages.
    """
    patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def private_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Django's own CSRF check (Origin and token, nothing relaxed), with every answer `_private`:
    the check runs inside the wrapper, so a CSRF failure (403) and a refused method (405), which
    still carry the token in their URL, are private too."""
    protected = cast(Callable[..., HttpResponse], csrf_protect(view))

    @functools.wraps(view)
    def private(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return _private(protected(request, *args, **kwargs))

    # The global middleware would refuse first, without the private headers; the check above
    # is the same one.
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
        now = timezone.now()
        try:
            # A dropped database connection is retried once (the submission is idempotent).
            result = with_connection_retry(
                lambda: request_submit(
                    email=data["email"],
                    order_id=data["order_id"],
                    reason=form.reason_text(),
                    password_change_warning=data["password_change_warning"],
                    skus=data["skus"],
                    now=now,
                )
            )
        except DatabaseUnavailable:
            form.add_error(
                None,
                _("We cannot take requests at this moment. Please send the form again shortly."),
            )
            response = render(request, "compensation/request_form.html", {"form": form}, status=503)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
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


@private_page
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


@private_page
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
    # The lookup and the e-mail happen in a task: this answer does the same work and takes the
    # same time whether the order exists or not (nothing to learn from it).
    enqueue_on_commit(tasks.send_fresh_link, form.cleaned_data["order_id"])
    return _private(render(request, "compensation/order_page/link_sent.html"))
