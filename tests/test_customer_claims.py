"""Asking for compensation on every channel: the form's error summary, product codes with spaces,
order ids in any case, and the claim from the signed order page (test client; the browser tests
cover focus and the script)."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from compensation.models import CompensationRequest, Decision
from compensation.order_page import order_page_link_issue
from inventory.models import Account
from orders.selectors import order_find, orders_by_reference
from orders.services import orders_import

from .factories.compensation import request_with_decisions
from .factories.inventory import make_product
from .factories.orders import delivered_line, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def _form(client: Client, **overrides: str):
    data = {
        "email": "buyer@example.com",
        "order_id": "A5000",
        "reason": "account_locked",
        "details": "",
        "password_change_warning": "no",
        "skus": "",
        **overrides,
    }
    return client.post("/", data)


# --- the form ----------------------------------------------------------------------------------


def test_a_failed_submit_puts_a_linked_summary_first_and_keeps_the_answers(client) -> None:
    response = _form(client, email="not-an-address", reason="", details="It broke.")

    body = response.content.decode()
    assert response.status_code == 400
    start = body.index('id="error-summary"')
    summary = body[start : body.index("</div>", start)]
    # Above the long conditions card, focusable and focused on load, one link per field.
    assert body.index('id="error-summary"') < body.index("Before you ask")
    assert 'tabindex="-1"' in body and "autofocus" in summary.split(">")[0]
    assert '<a href="#id_email">Your e-mail address: Enter a valid e-mail address.</a>' in summary
    assert '<a href="#id_reason_0">What went wrong?: This field is required.</a>' in summary
    assert 'value="not-an-address"' in body and "It broke.</textarea>" in body
    assert CompensationRequest.objects.count() == 0


def test_a_product_code_with_spaces_or_odd_characters_can_be_chosen(client) -> None:
    order = make_order(order_id="A5000", email="buyer@example.com")
    spaced = delivered_line(order=order, product=make_product(sku="IG AGED 2019"))
    odd = delivered_line(order=order, product=make_product(sku="X/Fresh#2"))
    delivered_line(order=order, product=make_product(sku="TT-1"))

    response = _form(client, skus="ig  aged 2019; x/fresh#2")

    assert response.status_code == 303
    request = CompensationRequest.objects.get()
    assert list(request.claims.values_list("line_id", flat=True)) == [spaced.pk, odd.pk]


def test_order_ids_are_trimmed_and_matched_ignoring_case_on_every_channel(client) -> None:
    line = delivered_line(order=make_order(order_id="D1040", email="buyer@example.com"))

    form = _form(client, order_id="  d1040 ", email="BUYER@example.com")
    api = client.post(
        "/api/v1/compensation-requests",
        {"email": "buyer@example.com", "order_id": "d1040", "reason": "locked"},
        content_type="application/json",
    )

    request = CompensationRequest.objects.get()
    assert form.status_code == 303 and form["Location"] == f"/requests/{request.pk}/"
    assert api.status_code == 200 and api.json()["id"] == str(request.pk)  # the one in progress
    assert request.order_id == line.order_id
    assert order_find(" d1040") == line.order and order_find("d104") is None


@pytest.mark.postgres
def test_the_order_lookup_uses_the_expression_index() -> None:
    make_order(order_id="D1040")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table: make the planner show its index
    try:
        plan = orders_by_reference(" d1040").explain()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan")
    assert "order_id_unique_ignoring_case" in plan


def test_a_second_order_id_differing_only_in_case_is_refused_by_the_database() -> None:
    make_order(order_id="D1040")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_order(order_id="d1040")


# --- the claim on the order page ---------------------------------------------------------------


def _order_page(now=None):
    order = make_order(order_id="A7000", email="buyer@example.com")
    first = delivered_line(
        quantity=2, order=order, product=make_product(sku="IG-AGED", name="Instagram aged")
    )
    second = delivered_line(quantity=1, order=order, product=make_product(sku="X-AGED"))
    url = order_page_link_issue(order=order, now=now or timezone.now())
    return order, first, second, url


def _claim(client: Client, url: str, **data):
    page = client.get(url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    return client.post(
        url,
        {
            "csrfmiddlewaretoken": token.group(1),
            "action": "claim",
            "claim-reason": "account_locked",
            "claim-password_change_warning": "no",
            **data,
        },
    )


def test_a_claim_from_the_order_page_needs_no_order_id_or_codes() -> None:
    order, first, _second, url = _order_page()
    client = Client(enforce_csrf_checks=True)
    ticked = first.accounts.order_by("id").first()
    assert ticked is not None

    response = _claim(
        client, url, **{"claim-lines": [str(first.pk)], "claim-accounts": [str(ticked.pk)]}
    )

    request = CompensationRequest.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"/requests/{request.pk}/"
    assert (request.order_id, request.email) == (order.pk, "buyer@example.com")
    assert request.requested_skus == ["IG-AGED"]
    assert request.reason == f"Account locked: Accounts: {ticked.username}"
    assert request.decisions.count() == 2  # every account of the ticked line is checked


def test_the_order_page_claim_shares_the_rate_limit_and_keeps_the_answers(settings) -> None:
    settings.COMPENSATION_RATE_LIMIT = "1/m"
    _order, first, second, url = _order_page()
    client = Client()
    _claim(client, url, **{"claim-lines": [str(second.pk)]})

    refused = _claim(
        client, url, **{"claim-lines": [str(first.pk)], "claim-details": "Locked on Monday"}
    )

    assert refused.status_code == 429
    body = refused.content.decode()
    assert "We received too many requests from your connection" in body
    assert "Locked on Monday</textarea>" in body
    assert f'value="{first.pk}" id="id_claim-lines_0" checked' in body
    assert CompensationRequest.objects.count() == 1


def test_a_line_whose_compensation_is_held_cannot_be_claimed_again() -> None:
    _order, first, second, url = _order_page()
    request_with_decisions(
        line=first, decisions=[(Decision.MANUAL_REVIEW, "profile_not_found")] * 2
    )
    client = Client()

    body = client.get(url).content.decode()
    refused = _claim(client, url, **{"claim-lines": [str(first.pk)]})

    assert f'name="claim-lines" value="{second.pk}"' in body
    assert f'name="claim-lines" value="{first.pk}"' not in body
    assert "is being handled; we will e-mail you its outcome." in body
    assert refused.status_code == 400
    assert "Select a valid choice." in refused.content.decode()
    assert CompensationRequest.objects.count() == 1


def test_the_order_page_tells_each_account_and_line_its_story() -> None:
    now = timezone.now()
    _order, first, second, url = _order_page(now)
    request = request_with_decisions(
        line=first,
        decisions=[
            (Decision.MANUAL_REVIEW, "suspended_no_interaction"),
            (Decision.REJECTED, "appears_active"),
        ],
    )
    body = Client().get(url).content.decode()

    review, active = Account.objects.filter(line=first).order_by("id")
    assert body.count(f'href="/requests/{request.pk}/"') == 3  # the line and its two accounts
    review_part = body[body.index(f'id="account-{review.pk}"') :]
    assert "Waiting for a person" in review_part[: review_part.index("</li>")]
    active_part = body[body.index(f'id="account-{active.pk}"') :]
    assert "The account looks active and working." in active_part[: active_part.index("</li>")]
    second_part = body[body.index(f'id="line-{second.pk}"') :]
    assert re.search(
        r"Can be compensated until <time[^>]*>[^<]+ UTC</time> \(26 days left\)", second_part
    )
    assert "used by your request" not in body


def test_the_script_is_served_by_the_app_and_pages_carry_no_inline_script(client) -> None:
    script = client.get("/assets/site.js")
    form = client.get("/").content.decode()

    assert script.status_code == 200
    assert script["Content-Type"] == "text/javascript; charset=utf-8"
    assert "data-error-summary" in script.content.decode()
    assert re.findall(r"<script[^>]*>", form) == ['<script src="/assets/site.js" defer>']


def test_an_import_names_an_order_in_any_case_once() -> None:
    make_order(order_id="D1002")
    product = make_product(sku="HIST")
    rows = [
        {
            "order_id": order_id,
            "email": "a@example.com",
            "placed_at": "2026-11-20T10:00:00Z",
            "lines": [{"sku": "HIST", "accounts": [{"username": f"hist_{i}", "password": "x"}]}],
        }
        for i, order_id in enumerate(["d1002", "D1003", "d1003"])
    ]

    report = orders_import(
        source=io.BytesIO(json.dumps(rows).encode()),
        filename="orders.json",
        actor=None,
        now=timezone.now(),
        dry_run=True,
    )

    assert [e.message for e in report.errors] == [
        "order 'd1003': duplicate order_id (first on line 1)"
    ]
    assert report.skipped == 1  # "d1002" is the order D1002, already present
    assert product.sku == "HIST"


def test_a_line_being_checked_is_neither_claimable_nor_said_to_be_open() -> None:
    _order, first, _second, url = _order_page()
    request = request_with_decisions(
        line=first, decisions=[(Decision.PENDING, "")] * 2, status="checking"
    )
    assert not request.claims.get().uses_compensation  # nothing decided yet

    body = Client().get(url).content.decode()

    start = body.index(f'id="line-{first.pk}"')
    line_part = body[start : body.index("</section>", start)]
    assert "is being handled; we will e-mail you its outcome." in line_part
    assert "Can be compensated until" not in line_part
    assert f'name="claim-lines" value="{first.pk}"' not in body
