"""The customer's pages through Django's test client: form, result page, order page and its link."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compensation.events import CompensationEvent
from compensation.models import CompensationRequest, Decision, Notification, RequestStatus
from compensation.order_page import order_page_link_issue
from inventory.events import InventoryEvent
from inventory.models import Account, Event
from orders.events import OrderEvent
from orders.links import order_link_issue, order_link_resolve, order_link_revoke
from orders.models import OrderLink

from .emails import link_in
from .factories.compensation import deliver_replacement, request_with_decisions
from .factories.inventory import make_product
from .factories.orders import delivered_line, make_order

pytestmark = pytest.mark.django_db

FORM_URL = "/"
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def _post_form(client, **overrides):
    data = {
        "email": "buyer@example.com",
        "order_id": "A5000",
        "reason": "account_locked",
        "details": "",
        "password_change_warning": "no",
        "skus": "",
    }
    data.update(overrides)
    return client.post(FORM_URL, data)


def _token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


# --- the form ---------------------------------------------------------------------------------


def test_form_explains_the_conditions_and_is_csrf_protected(client) -> None:
    response = client.get(FORM_URL)

    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Use all your accounts first.",
        "Within 30 days of your order.",
        "Once per product per order.",
        "Same product only.",
        "Accounts whose username was changed after delivery.",
        "Accounts where you saw a “Change Password” warning when logging in.",
        "a person reviews these",
    ):
        assert text in body
    assert 'name="csrfmiddlewaretoken"' in body
    # Every input has a label; the radio groups are fieldsets with a legend.
    assert '<label for="id_email">' in body and '<label for="id_order_id">' in body
    assert body.count("<fieldset") == 2 and body.count("<legend>") == 2
    # No inline script (a Content-Security-Policy of script-src 'self' allows the page): the one
    # script is an enhancement loaded from the app.
    assert re.findall(r"<script[^>]*>", body) == ['<script src="/assets/site.js" defer>']


def test_form_rejects_a_post_without_csrf_token() -> None:

    response = Client(enforce_csrf_checks=True).post(FORM_URL, {"email": "x@example.com"})

    assert response.status_code == 403
    assert CompensationRequest.objects.count() == 0


def test_submit_redirects_with_303_to_the_result_page(client) -> None:
    line = delivered_line(quantity=2, order=make_order(order_id="A5000", email="buyer@example.com"))

    response = _post_form(client, details="Locked since Monday", skus=line.product.sku)

    request = CompensationRequest.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"/requests/{request.pk}/"
    assert request.reason == "Account locked: Locked since Monday"
    assert request.password_change_warning is False
    assert request.requested_skus == [line.product.sku]


def test_password_change_warning_is_required(client) -> None:
    delivered_line(order=make_order(order_id="A5000", email="buyer@example.com"))

    response = _post_form(client, password_change_warning="")

    assert response.status_code == 400
    body = response.content.decode()
    assert (
        'aria-describedby="id_password_change_warning_helptext id_password_change_warning_error"'
        in body
    )
    assert (
        '<ul class="errorlist" id="id_password_change_warning_error"><li>This field is required.'
        in body
    )
    assert CompensationRequest.objects.count() == 0


def test_wrong_email_and_unknown_order_look_exactly_the_same(client) -> None:
    delivered_line(order=make_order(order_id="A5000", email="buyer@example.com"))

    wrong_email = _post_form(client, email="someone.else@example.com")
    unknown_order = _post_form(client, order_id="A9999")

    assert wrong_email.status_code == unknown_order.status_code == 404
    assert (
        "We could not find an order with this number and e-mail address."
        in wrong_email.content.decode()
    )

    def normalised(response) -> str:
        body = CSRF_RE.sub("", response.content.decode())
        # The form echoes what was typed: put the typed values back to the same placeholders.
        return (
            body.replace("someone.else@example.com", "EMAIL")
            .replace("buyer@example.com", "EMAIL")
            .replace('value="A9999"', 'value="ORDER"')
            .replace('value="A5000"', 'value="ORDER"')
        )

    assert normalised(wrong_email) == normalised(unknown_order)
    assert CompensationRequest.objects.count() == 0
    assert Event.objects.filter(kind=CompensationEvent.REQUEST_RECEIVED).count() == 0


def test_unknown_product_code_is_named_on_the_form(client) -> None:
    delivered_line(order=make_order(order_id="A5000", email="buyer@example.com"))

    response = _post_form(client, skus="NOPE-1, NOPE-2")

    assert response.status_code == 400
    assert "These products are not on this order: NOPE-1, NOPE-2." in response.content.decode()
    assert CompensationRequest.objects.count() == 0


def test_second_submission_while_checking_goes_to_the_same_request(client) -> None:
    delivered_line(order=make_order(order_id="A5000", email="buyer@example.com"))

    first = _post_form(client)
    second = _post_form(client, reason="other", details="again")

    assert first.status_code == second.status_code == 303
    assert first["Location"] == second["Location"]
    assert CompensationRequest.objects.count() == 1
    page = client.get(second["Location"])
    assert "A request for this order is already being checked." in page.content.decode()


def test_the_rate_limit_bites_and_stops_before_the_service(client, settings) -> None:
    settings.COMPENSATION_RATE_LIMIT = "2/m"
    delivered_line(order=make_order(order_id="A5000", email="buyer@example.com"))

    first = _post_form(client, email="wrong@example.com")
    second = _post_form(client, email="wrong@example.com")
    third = _post_form(client)  # the right e-mail this time: still refused

    assert [first.status_code, second.status_code, third.status_code] == [404, 404, 429]
    refused = third.content.decode()
    assert "We received too many requests from your connection" in refused
    assert 'id="error-summary"' in refused
    # The answers are kept for the next try.
    assert 'value="buyer@example.com"' in refused and 'value="A5000"' in refused
    assert third["Retry-After"] == "60"
    assert CompensationRequest.objects.count() == 0
    assert client.get(FORM_URL).status_code == 200  # reading the form is never limited


# --- the result page --------------------------------------------------------------------------


def test_result_page_shows_every_account_with_its_reason_and_refreshes_while_checking(
    client,
) -> None:
    line = delivered_line(quantity=3)
    request = request_with_decisions(
        line=line,
        status=RequestStatus.CHECKING,
        decisions=[
            (Decision.APPROVED, "locked_no_interaction"),
            (Decision.MANUAL_REVIEW, "suspended_no_interaction"),
            (Decision.PENDING, ""),
        ],
    )

    response = client.get(f"/requests/{request.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert '<meta http-equiv="refresh" content="3">' in body
    for account in Account.objects.filter(line=line):
        assert account.username in body
        assert f"pw-{account.username}" not in body  # never a credential
    assert "Approved: the account is locked and was not used after delivery." in body
    assert "We are preparing your replacement of the same product now." in body
    assert "A member of our team will review this account" in body
    assert "We are checking this account" in body
    assert (
        "Still open: 1 account is being checked; 1 account is waiting for a person; "
        "1 replacement is being prepared."
    ) in body


def test_result_page_refreshes_slowly_while_only_rechecks_remain(client) -> None:
    line = delivered_line(quantity=2)
    request = request_with_decisions(
        line=line,
        status=RequestStatus.CHECKING,
        decisions=[
            (Decision.UNVERIFIED, "status_unavailable"),
            (Decision.REJECTED, "appears_active"),
        ],
    )

    body = client.get(f"/requests/{request.pk}/").content.decode()

    assert '<meta http-equiv="refresh" content="30">' in body
    assert (
        html.escape(
            "We could not read this account's public profile yet. We will check it again "
            "automatically soon; this never counts against you."
        )
        in body
    )
    assert "Still open: 1 account will be checked again automatically." in body


def test_result_page_and_api_say_the_same(client) -> None:
    line = delivered_line(quantity=2)
    request = request_with_decisions(
        line=line,
        decisions=[
            (Decision.REJECTED, "appears_active"),
            (Decision.APPROVED, "followers_decreased"),
        ],
    )

    page = client.get(f"/requests/{request.pk}/").content.decode()
    api = client.get(f"/api/v1/compensation-requests/{request.pk}").json()

    assert "http-equiv" not in page  # decided: no more refreshing
    cache_control = client.get(f"/requests/{request.pk}/")["Cache-Control"]
    assert {part.strip() for part in cache_control.split(",")} == {
        "private",
        "no-store",
        "max-age=0",
    }
    accounts = [a for line_json in api["lines"] for a in line_json["accounts"]]
    assert len(accounts) == 2
    for account in accounts:
        assert account["username"] in page
        assert html.escape(account["message"]) in page


def test_unknown_request_is_a_404(client) -> None:
    response = client.get(f"/requests/{uuid.uuid4()}/")

    assert response.status_code == 404
    assert "Request not found" in response.content.decode()


# --- the order page and its link -------------------------------------------------------------


def _order_with_replacement():
    order = make_order(order_id="A7000", email="buyer@example.com")
    line = delivered_line(quantity=2, order=order)
    request = request_with_decisions(
        line=line,
        decisions=[
            (Decision.APPROVED, "locked_no_interaction"),
            (Decision.REJECTED, "appears_active"),
        ],
    )
    replacement = deliver_replacement(batch=request.batches.get())[0]
    return order, line, replacement


def _assert_private(response) -> None:
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"


def test_order_page_shows_lines_and_compensate_product_but_no_credentials_on_get(client) -> None:
    order, line, replacement = _order_with_replacement()
    url = order_page_link_issue(order=order, now=timezone.now())

    response = client.get(url)

    body = response.content.decode()
    assert response.status_code == 200
    _assert_private(response)
    for account in Account.objects.filter(line=line):
        assert account.username in body
        assert f"pw-{account.username}" not in body
    replacements = body[body.index('<div class="replacements">') :]
    # The label on the group and on the account
    assert replacements.count("Compensate Product") == 2
    assert replacement.username in replacements
    assert "This product was compensated in your request of" in body
    assert 'method="post"' in body and "Show login details" in body
    assert not Event.objects.filter(kind=InventoryEvent.CREDENTIALS_REVEALED).exists()


def test_credentials_appear_only_after_the_post_and_the_reveal_is_recorded(client) -> None:
    order, line, _replacement = _order_with_replacement()
    url = order_page_link_issue(order=order, now=timezone.now())

    response = client.post(url)

    body = response.content.decode()
    assert response.status_code == 200
    _assert_private(response)
    accounts = list(Account.objects.filter(line=line).order_by("id"))
    assert len(accounts) == 3
    for account in accounts:
        assert f"pw-{account.username}" in body
    event = Event.objects.get(kind=InventoryEvent.CREDENTIALS_REVEALED)
    assert event.actor_id is None and event.order_id == order.pk
    assert event.data["account_ids"] == [a.pk for a in accounts]
    assert "pw-" not in str(event.data) and "pw-" not in event.message


def test_window_left_and_closed_are_shown_per_line(client) -> None:
    now = timezone.now()
    order = make_order(placed_at=now - timedelta(days=10))
    open_line = delivered_line(order=order, product=make_product(name="Open product"))
    closed = delivered_line(order=order, product=make_product(name="Short warranty"))
    closed.product.claim_window_days = 7
    closed.product.follower_drop_window_days = 7
    closed.product.save()

    body = client.get(order_page_link_issue(order=order, now=now)).content.decode()

    open_part = body[body.index("Open product") : body.index("Short warranty")]
    closed_part = body[body.index("Short warranty") :]
    assert "Can be compensated until" in open_part and "19 days" in open_part
    assert "This product can no longer be compensated: its window closed on" in closed_part
    assert open_line.product.sku in body


@pytest.mark.parametrize("how", ["tampered", "expired", "revoked", "garbage"])
def test_a_bad_link_reveals_nothing_and_offers_a_fresh_link(client, how) -> None:
    order, line, _replacement = _order_with_replacement()
    now = timezone.now()
    if how == "expired":
        url = order_page_link_issue(order=order, now=now - timedelta(days=15))
    else:
        url = order_page_link_issue(order=order, now=now)
    token = _token(url)
    if how == "tampered":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif how == "revoked":
        link = OrderLink.objects.get()
        assert order_link_revoke(link_id=link.pk, actor=None, now=now) is True
    elif how == "garbage":
        token = "not-a-token"
    bad_url = f"/orders/link/{token}/"

    for response in (client.get(bad_url), client.post(bad_url)):
        body = response.content.decode()
        assert response.status_code == 404
        _assert_private(response)
        assert "This link no longer works" in body
        assert 'action="/orders/new-link/"' in body and 'name="order_id"' in body
        assert order.order_id not in body
        for account in Account.objects.filter(line=line):
            assert account.username not in body
            assert f"pw-{account.username}" not in body
    assert not Event.objects.filter(kind=InventoryEvent.CREDENTIALS_REVEALED).exists()


def test_a_link_records_its_use_at_most_once_a_minute() -> None:
    order = make_order()
    now = timezone.now()
    token = order_link_issue(order=order, now=now)

    def used() -> object:
        return OrderLink.objects.get().last_used_at

    with CaptureQueriesContext(connection) as first:
        assert order_link_resolve(token=token, now=now) is not None
    with CaptureQueriesContext(connection) as reload:
        assert order_link_resolve(token=token, now=now + timedelta(seconds=59)) is not None
    assert used() == now  # a reload within the minute writes nothing
    assert [q["sql"].split()[0] for q in first.captured_queries] == ["SELECT", "UPDATE"]
    assert [q["sql"].split()[0] for q in reload.captured_queries] == ["SELECT"]
    assert order_link_resolve(token=token, now=now + timedelta(minutes=1)) is not None
    assert used() == now + timedelta(minutes=1)


def test_link_service_resolves_only_live_links() -> None:
    order = make_order()
    now = timezone.now()
    token = order_link_issue(order=order, now=now)
    link = OrderLink.objects.get()

    assert order_link_resolve(token=token, now=now) == link
    assert len(link.token_hash) == 64 and token not in link.token_hash  # only the hash is kept
    assert order_link_resolve(token=token, now=link.expires_at - timedelta(seconds=1)) == link
    assert order_link_resolve(token=token, now=link.expires_at) is None
    assert order_link_revoke(link_id=link.pk, actor=None, now=now) is True
    assert order_link_revoke(link_id=link.pk, actor=None, now=now) is False  # nothing twice
    assert order_link_resolve(token=token, now=now) is None
    assert list(Event.objects.filter(order=order).values_list("kind", flat=True)) == [
        OrderEvent.LINK_ISSUED,
        OrderEvent.LINK_REVOKED,
    ]


def test_fresh_link_answer_is_the_same_whether_the_order_exists_or_not(
    client, django_capture_on_commit_callbacks, settings
) -> None:
    order, _line, _replacement = _order_with_replacement()

    with django_capture_on_commit_callbacks(execute=True):
        known = client.post("/orders/new-link/", {"order_id": order.order_id})
    with django_capture_on_commit_callbacks(execute=True):
        unknown = client.post("/orders/new-link/", {"order_id": "NO-SUCH"})

    assert known.status_code == unknown.status_code == 200
    assert CSRF_RE.sub("", known.content.decode()) == CSRF_RE.sub("", unknown.content.decode())
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [order.email]
    new_url = link_in(message.body)
    page = client.get(new_url.replace(settings.SITE_URL, ""))
    assert page.status_code == 200 and "Compensate Product" in page.content.decode()
    assert Notification.objects.filter(kind="order_link").count() == 1


def test_fresh_link_form_is_rate_limited(
    client, settings, django_capture_on_commit_callbacks
) -> None:
    settings.COMPENSATION_RATE_LIMIT = "2/m"
    order = make_order()

    with django_capture_on_commit_callbacks(execute=True):
        codes = [
            client.post("/orders/new-link/", {"order_id": order.order_id}).status_code
            for _ in range(3)
        ]

    assert codes == [200, 200, 429]
    # The second ask within ORDER_LINK_RESEND_MINUTES sends nothing more.
    assert Notification.objects.filter(kind="order_link").count() == 1


@pytest.mark.parametrize(
    "origin, expected",
    [("http://testserver", 200), (None, 200), ("null", 403), ("https://evil.example", 403)],
)
def test_pages_posting_to_themselves_pass_csrf_and_cross_site_posts_fail(origin, expected) -> None:
    """The order page and the fresh-link form send `Referrer-Policy: same-origin`, so a browser
    posts them with this site's Origin: that passes (with the token). A cross-site post fails,
    token or not, and so does `Origin: null` (what a `no-referrer` or sandboxed attacker page
    sends). Without an Origin (old browsers, plain HTTP) the token decides, as Django does."""

    order, _line, _replacement = _order_with_replacement()
    url = order_page_link_issue(order=order, now=timezone.now())
    browser = Client(enforce_csrf_checks=True)
    token = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(url).content.decode()
    )
    assert token is not None
    headers = {} if origin is None else {"HTTP_ORIGIN": origin}

    without_token = browser.post(url, **headers)
    with_token = browser.post(url, {"csrfmiddlewaretoken": token.group(1)}, **headers)

    assert without_token.status_code == 403
    assert with_token.status_code == expected
    revealed = Event.objects.filter(kind=InventoryEvent.CREDENTIALS_REVEALED).count()
    assert revealed == (1 if expected == 200 else 0)
    fresh = browser.post(
        "/orders/new-link/", {"order_id": "X", "csrfmiddlewaretoken": token.group(1)}, **headers
    )
    assert fresh.status_code == expected
