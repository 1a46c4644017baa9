"""The signed order-page link: private on every answer, never in a log line, and the fresh-link
form answers the same whether the order exists or not."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from compensation.log_redaction import RedactOrderLinkTokens, redact_order_link_tokens
from compensation.order_page import order_page_link_issue
from inventory.events import InventoryEvent
from inventory.models import Event
from orders.links import order_link_issue, order_link_revoke
from orders.models import OrderLink

from .factories.orders import delivered_line

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit(settings: Any) -> None:
    settings.COMPENSATION_RATE_LIMIT = "0"
    cache.clear()


def _live_link() -> tuple[str, str]:
    line = delivered_line()
    url = order_page_link_issue(order=line.order, now=timezone.now())
    token = url.rstrip("/").rsplit("/", 1)[1]
    return f"/orders/link/{token}/", token


def _assert_private(response: Any) -> None:
    assert "no-store" in response["Cache-Control"], response.status_code
    assert response["Referrer-Policy"] == "same-origin"


def test_every_answer_of_a_valid_link_is_private() -> None:
    path, _token = _live_link()
    client, strict = Client(), Client(enforce_csrf_checks=True)
    responses = {
        "get": client.get(path),
        "head": client.head(path),
        "post": client.post(path),
        "csrf failure": strict.post(path),
        "put": client.put(path),
        "delete": client.delete(path),
    }
    assert {k: r.status_code for k, r in responses.items()} == {
        "get": 200,
        "head": 405,
        "post": 200,
        "csrf failure": 403,
        "put": 405,
        "delete": 405,
    }
    for response in responses.values():
        _assert_private(response)


def test_a_csrf_failure_on_a_valid_link_reveals_nothing() -> None:
    path, _token = _live_link()
    response = Client(enforce_csrf_checks=True).post(path)
    assert response.status_code == 403
    assert b"pw-user_" not in response.content
    assert not Event.objects.filter(kind=InventoryEvent.CREDENTIALS_REVEALED).exists()


def test_a_revoked_link_stays_dead_after_a_new_one_is_issued() -> None:
    path, _token = _live_link()
    link = OrderLink.objects.get()
    order = link.order
    assert order_link_revoke(link_id=link.pk, actor=None, now=timezone.now())
    order_link_issue(order=order, now=timezone.now())  # a fresh link does not revive the old one
    for response in (Client().get(path), Client().post(path)):
        assert response.status_code == 404
        _assert_private(response)
    assert not Event.objects.filter(kind=InventoryEvent.CREDENTIALS_REVEALED).exists()


def test_a_link_for_one_order_cannot_be_moved_to_another() -> None:
    """The token signs the order pk; its hash is stored with the order. Re-signing needs the
    secret key, so only the stored hash check stands between a valid token and another order."""
    path, _token = _live_link()
    other = delivered_line().order
    OrderLink.objects.update(order=other)  # a row pointing elsewhere must not serve the page
    response = Client().get(path)
    assert response.status_code == 404
    _assert_private(response)


def test_order_link_tokens_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path, token = _live_link()
    Client(enforce_csrf_checks=True).post(path)  # 403 on a valid link: logged with its path
    Client().put(path)  # 405: logged with its path
    expired = order_link_issue(
        order=OrderLink.objects.get().order, now=timezone.now() - timedelta(days=30)
    )
    Client().get("/orders/link/" + expired + "/")  # 404
    messages = [record.getMessage() for record in caplog.records]
    assert any(
        "Forbidden (CSRF cookie not set.): /orders/link/<redacted>/" in m for m in messages
    ), messages
    assert any("/orders/link/<redacted>/" in m and "Method Not Allowed" in m for m in messages)
    assert all(token not in m for m in messages)
    assert all("/orders/link/" not in m or "/orders/link/<redacted>/" in m for m in messages)


def test_the_redaction_filter_rewrites_formatted_messages() -> None:
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /orders/link/eyJv:1t:abc/ HTTP/1.1", 200, 5),
        None,
    )
    assert RedactOrderLinkTokens().filter(record) is True
    assert record.getMessage() == '"GET /orders/link/<redacted>/ HTTP/1.1" 200 5'
    assert redact_order_link_tokens("see /orders/new-link/ and /orders/link/x/") == (
        "see /orders/new-link/ and /orders/link/<redacted>/"
    )


def test_the_fresh_link_form_answers_the_same_for_known_and_unknown_orders(
    django_capture_on_commit_callbacks: Any,
) -> None:
    order = delivered_line().order
    answers = []
    for order_id in (order.order_id, "NO-SUCH-ORDER"):
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post("/orders/new-link/", {"order_id": order_id})
        _assert_private(response)
        body = response.content.decode().replace(order_id, "<id>")
        answers.append((response.status_code, body, sorted(response.headers.items())))
    assert answers[0] == answers[1]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [order.email]


def test_links_from_a_token_page_send_no_referrer() -> None:
    """Under `same-origin` a link to another page of this site would carry the token in its
    Referer (and so into access logs): every link on the order page opts out."""
    path, token = _live_link()
    html = Client().get(path).content.decode()
    links = re.findall(r"<a [^>]*href=\"/[^\"#]*\"[^>]*>", html)
    assert links, "the order page links back to the form"
    assert all('rel="noreferrer"' in link for link in links), links
    assert token not in "".join(links)
