"""Customer pages: the compensation form, the result page, and the order page behind a signed link.

Views parse input, call one service or selector, and render. No JavaScript is needed anywhere: the
result page refreshes itself with a meta refresh while checks run; `site.js` only enhances
(local times, focus on the error summary, copy buttons, naming ticked accounts in a claim).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from compensation import tasks
from compensation.db_retry import RETRY_AFTER_SECONDS, DatabaseUnavailable, with_connection_retry
from compensation.forms import CompensationRequestForm, FreshLinkForm, OrderClaimForm
from compensation.order_page import OrderPage, order_credentials_reveal, order_page_read
from compensation.queueing import enqueue_on_commit
from compensation.ratelimit import rate_limit_hit
from compensation.selectors import request_view
from compensation.services.submit import (
    OrderNotFound,
    SubmitResult,
    UnknownLines,
    request_submit,
)
from orders.links import order_link_resolve
from orders.models import Order

RESULT_REFRESH_SECONDS = 3
RECHECK_REFRESH_SECONDS = 30


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


RATE_LIMITED = _(
    "We received too many requests from your connection in a short time. Please wait a minute, "
    "then send the form again: your answers are kept."
)
UNAVAILABLE = _("We cannot take requests at this moment. Please send the form again shortly.")
NOT_FOUND = _(
    "We could not find an order with this number and e-mail address. Please check both against "
    "your order confirmation."
)


def _rate_limited(
    request: HttpRequest, template: str, context: dict[str, Any], form: forms.Form
) -> HttpResponse:
    """The same page again with the customer's answers kept and the limit in the summary."""
    form.is_valid()  # bind the answers so the page shows them
    form.add_error(None, RATE_LIMITED)
    response = render(request, template, {**context, "form": form}, status=429)
    response["Retry-After"] = "60"
    return response


def _see_result(request: HttpRequest, result: SubmitResult) -> HttpResponse:
    if not result.created:
        messages.info(
            request,
            _(
                "A request for this order is already being checked. Here it is; you can send a "
                "new one once it is decided."
            ),
        )
    return HttpResponseSeeOther(
        reverse("compensation:request_result", kwargs={"request_id": result.request.pk})
    )


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
    template = "compensation/request_form.html"
    if request.method != "POST":
        return render(request, template, {"form": CompensationRequestForm()})
    form = CompensationRequestForm(request.POST)
    if rate_limit_hit(request):
        return _rate_limited(request, template, {}, form)
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
            form.add_error(None, UNAVAILABLE)
            response = render(request, template, {"form": form}, status=503)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        except OrderNotFound:
            # One message and one status for an unknown order and a wrong e-mail (no probing).
            form.add_error(None, NOT_FOUND)
            status = 404
        except UnknownLines as exc:
            form.add_error(
                "skus",
                _("These products are not on this order: %(skus)s.")
                % {"skus": ", ".join(exc.skus)},
            )
        else:
            return _see_result(request, result)
    return render(request, template, {"form": form}, status=status)


# --- the result page --------------------------------------------------------------------------


@require_http_methods(["GET"])
def request_result(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    view = request_view(request_id=request_id)
    if view is None:
        return render(request, "compensation/request_not_found.html", status=404)
    checking = view.status == "checking"
    # Fast refresh while profiles are being read; slow while only back-off re-checks remain.
    refresh = RESULT_REFRESH_SECONDS if view.any_checking else RECHECK_REFRESH_SECONDS
    response = render(
        request,
        "compensation/request_result.html",
        {"view": view, "checking": checking, "refresh_seconds": refresh},
    )
    # The page names the customer's accounts and changes while checks run: never cache it.
    patch_cache_control(response, private=True, no_store=True, max_age=0)
    return response


# --- the order page ---------------------------------------------------------------------------


def _claim_form(page: OrderPage, data: QueryDict | None = None) -> OrderClaimForm:
    lines = page.claimable_lines
    return OrderClaimForm(
        data,
        lines=[(line.id, f"{line.product_name} ({line.sku})") for line in lines],
        accounts=[(a.id, a.username) for line in lines for a in line.accounts],
    )


def _order_claim(
    request: HttpRequest, *, order: Order, page: OrderPage, now: datetime
) -> HttpResponse:
    """A claim from the order page: the same service, rate limit and policy as the form; the
    order and its e-mail address come from the signed link."""
    template = "compensation/order_page/order_page.html"
    form = _claim_form(page, request.POST)
    if rate_limit_hit(request):
        return _rate_limited(request, template, {"page": page}, form)
    if not form.is_valid():
        return render(request, template, {"page": page, "form": form}, status=400)
    skus = [line.sku for line in page.claimable_lines if line.id in form.cleaned_data["lines"]]
    try:
        result = with_connection_retry(
            lambda: request_submit(
                email=order.email,
                order_id=order.order_id,
                reason=form.reason_text(usernames=form.ticked_usernames()),
                password_change_warning=form.cleaned_data["password_change_warning"],
                skus=skus,
                now=now,
            )
        )
    except DatabaseUnavailable:
        form.add_error(None, UNAVAILABLE)
        response = render(request, template, {"page": page, "form": form}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    except (OrderNotFound, UnknownLines):  # the order or its lines changed under the page
        form.add_error(None, NOT_FOUND)
        return render(request, template, {"page": page, "form": form}, status=409)
    return _see_result(request, result)


@private_page
@require_http_methods(["GET", "POST"])
def order_page(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    link = order_link_resolve(token=token, now=now)
    if link is None:
        return render(
            request,
            "compensation/order_page/link_invalid.html",
            {"form": FreshLinkForm()},
            status=404,
        )
    if request.method == "POST" and request.POST.get("action") == "claim":
        page = order_page_read(order=link.order, now=now)
        return _order_claim(request, order=link.order, page=page, now=now)
    credentials = None
    if request.method == "POST":  # the reveal button (a POST: mail scanners follow GET links)
        with transaction.atomic():
            credentials = order_credentials_reveal(link=link, now=now)
    page = order_page_read(order=link.order, now=now, credentials=credentials)
    return render(
        request,
        "compensation/order_page/order_page.html",
        {"page": page, "form": _claim_form(page)},
    )


@private_page
@require_http_methods(["GET", "POST"])
def order_link_fresh(request: HttpRequest) -> HttpResponse:
    """Ask for a new order-page link: the answer is the same whether the order exists or not."""
    template = "compensation/order_page/link_fresh.html"
    if request.method != "POST":
        return render(request, template, {"form": FreshLinkForm()})
    form = FreshLinkForm(request.POST)
    if rate_limit_hit(request, scope="order-link"):
        return _rate_limited(request, template, {}, form)
    if not form.is_valid():
        return render(request, template, {"form": form}, status=400)
    # The lookup and the e-mail happen in a task: this answer does the same work and takes the
    # same time whether the order exists or not (nothing to learn from it).
    enqueue_on_commit(tasks.send_fresh_link, form.cleaned_data["order_id"])
    return render(request, "compensation/order_page/link_sent.html")
