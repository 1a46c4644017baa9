"""The back office at the size of a real shop (issue 12): bounded inlines with a link to the full
list, searches that go through indexes (and still find what staff type), filters without a
whole-table DISTINCT, counts that stop at a cap. Query counts per page are checked on a
generated shop in tests/test_bench_scale.py."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from compensation.models import Decision
from compensation.rules import RULE_CODES
from compensation.selectors_backoffice import fulfilment_queue_per_product
from inventory.admin_mixins import CappedCountPaginator, distinct_values
from inventory.audit import event_record
from inventory.models import Account, Event

from .factories.compensation import (
    CompensationRequestFactory,
    request_with_decisions,
    review_cases,
    staff_user,
    waiting_batch,
)
from .factories.inventory import make_accounts, make_product
from .factories.orders import delivered_line, make_order

pytestmark = pytest.mark.django_db

DECISIONS = "/admin/compensation/accountdecision/"
ACCOUNTS = "/admin/inventory/account/"
EVENTS = "/admin/inventory/event/"
REQUESTS = "/admin/compensation/compensationrequest/"


@pytest.fixture
def client() -> Client:
    client = Client()
    client.force_login(staff_user(role=None, superuser=True, username="boss"))
    return client


def _links(html: str, prefix: str) -> list[str]:
    return [unquote(h).replace("&amp;", "&") for h in re.findall(rf'href="({prefix}[^"]*)"', html)]


def _case_links(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/admin/compensation/accountdecision/(\d+)/', html)}


# --- bounded pages -------------------------------------------------------------------------------


def test_request_page_shows_fifty_decisions_and_links_to_all_of_them(client: Client) -> None:
    line = delivered_line(quantity=60)
    request = request_with_decisions(
        line=line, decisions=[(Decision.REJECTED, "appears_active")] * 60
    )
    ids = set(request.decisions.values_list("id", flat=True))

    page = client.get(reverse("admin:compensation_compensationrequest_change", args=[request.pk]))

    html = page.content.decode()
    shown = _case_links(html)
    assert len(shown) == 50 and shown < ids
    assert "Showing 50 of 60." in html
    (full,) = [u for u in _links(html, DECISIONS) if "request__id__exact" in u]
    assert f"request__id__exact={request.pk}" in full and "queue=all" in full
    pages = [client.get(full), client.get(full + "&p=2")]  # the list shows 50 a page
    assert [p.status_code for p in pages] == [200, 200]
    assert _case_links(pages[0].content.decode()) | _case_links(pages[1].content.decode()) == ids


def test_request_page_with_few_decisions_has_no_see_all_link(client: Client) -> None:
    request = request_with_decisions(
        line=delivered_line(quantity=3), decisions=[(Decision.REJECTED, "appears_active")] * 3
    )

    html = client.get(
        reverse("admin:compensation_compensationrequest_change", args=[request.pk])
    ).content.decode()

    assert len(_case_links(html)) == 3
    assert "Showing" not in html


def test_order_page_lists_the_first_hundred_accounts_and_the_latest_fifty_events(
    client: Client,
) -> None:
    line = delivered_line(quantity=105)
    order = line.order
    now = timezone.now()
    for i in range(55):
        event_record(kind="link_issued", order_id=order.pk, at=now - timedelta(minutes=i))

    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    shown = set(re.findall(r"href=['\"]/admin/inventory/account/(\d+)/change/['\"]", html))
    assert len(shown) == 100
    (accounts_link,) = [u for u in _links(html, ACCOUNTS) if "?q=" in u]
    assert accounts_link == f"{ACCOUNTS}?q={order.order_id}"
    found = client.get(accounts_link).content.decode()
    assert len(set(re.findall(r'href="/admin/inventory/account/(\d+)/change/', found))) == 100
    assert "Showing 50 of 55." in html
    (events_link,) = [u for u in _links(html, EVENTS) if "order__id__exact" in u]
    assert events_link == f"{EVENTS}?order__id__exact={order.pk}"
    assert client.get(events_link).status_code == 200


# --- searches -----------------------------------------------------------------------------------


def test_account_search_finds_part_of_a_username_a_user_id_and_an_exact_order_id(
    client: Client,
) -> None:
    line = delivered_line(quantity=2)
    make_accounts(1, username="CoffeeLover_77", platform_user_id="998877")
    make_accounts(1, username="teapot")

    def usernames(term: str) -> set[str]:
        html = client.get(ACCOUNTS, {"q": term}).content.decode()
        listed = re.findall(r">(\w+)</a>", html)
        return set(Account.objects.filter(username__in=listed).values_list("username", flat=True))

    assert usernames("coffeelover") == {"CoffeeLover_77"}
    assert usernames("998877") == {"CoffeeLover_77"}
    assert usernames(line.order.order_id.lower()) == set(
        line.accounts.values_list("username", flat=True)
    )
    assert usernames("nobody-has-this") == set()


def test_review_list_search_by_order_id_or_username(client: Client) -> None:
    first = review_cases(2)
    second = review_cases(1)
    order_id = first[0].request.order.order_id

    by_order = _case_links(client.get(DECISIONS, {"q": order_id}).content.decode())
    by_name = _case_links(
        client.get(DECISIONS, {"q": second[0].account.username[2:]}).content.decode()
    )

    assert by_order == {d.pk for d in first}
    assert by_name == {second[0].pk}


def test_request_search_is_an_exact_order_id_or_e_mail_whatever_the_case(client: Client) -> None:
    wanted = CompensationRequestFactory.create(order=make_order(email="Ann@Example.com"))
    CompensationRequestFactory.create(order=make_order(email="ann@example.org"))

    def found(term: str) -> set[str]:
        html = client.get(REQUESTS, {"q": term}).content.decode()
        return set(re.findall(r"compensationrequest/([0-9a-f-]{36})/change/", html))

    assert found("ann@example.com") == {str(wanted.pk)}
    assert found(wanted.order.order_id.lower()) == {str(wanted.pk)}
    assert found("ann@example") == set()  # no substring search of e-mails (no index for it)


def test_event_search_by_order_id_and_username(client: Client) -> None:
    line = delivered_line(quantity=1)
    account = line.accounts.get()
    other = delivered_line(quantity=1)
    now = timezone.now()
    mine = event_record(kind="link_issued", order_id=line.order_id, at=now)
    theirs = event_record(kind="link_issued", order_id=other.order_id, at=now)
    about_account = event_record(kind="account_retired", account_id=account.pk, at=now)

    def found(term: str) -> set[int]:
        html = client.get(EVENTS, {"q": term}).content.decode()
        return {int(n) for n in re.findall(r'href="/admin/inventory/event/(\d+)/change/', html)}

    assert found(line.order.order_id) == {mine.pk}
    assert found(account.username) == {about_account.pk}
    assert theirs.pk not in found(line.order.order_id) | found(account.username)


# --- filters and counts -------------------------------------------------------------------------


def test_supplier_and_kind_filters_list_their_values_from_an_index_walk(client: Client) -> None:
    product = make_product()
    make_accounts(2, product=product, supplier="north")
    make_accounts(1, product=product, supplier="south")
    make_accounts(1, product=product, supplier="")
    event_record(kind="zeta_kind", at=timezone.now())
    event_record(kind="alpha_kind", at=timezone.now())

    assert distinct_values(Account, "supplier") == ["", "north", "south"]
    assert distinct_values(Event, "kind") == ["alpha_kind", "zeta_kind"]
    html = client.get(ACCOUNTS).content.decode()
    assert "?supplier=north" in html and "?supplier=south" in html
    assert "?kind=alpha_kind" in client.get(EVENTS).content.decode()


def test_rule_filter_offers_every_rule_of_the_policy(client: Client) -> None:
    html = client.get(DECISIONS, {"queue": "all"}).content.decode()

    offered = set(re.findall(r"[?;]rule=(\w+)", html))
    assert offered == set(RULE_CODES)


def test_long_lists_count_up_to_a_cap(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    make_accounts(5)

    capped = client.get(ACCOUNTS).content.decode()
    exact = client.get(ACCOUNTS, {"q": "user_"}).content.decode()  # search narrows: still > 3

    assert "more than 3 accounts" in capped
    assert "more than 3 accounts" in exact
    monkeypatch.setattr(CappedCountPaginator, "cap", 10)
    assert "5 accounts" in client.get(ACCOUNTS).content.decode()


def test_queue_per_product_counts_stock_only_as_far_as_the_queue_needs_it() -> None:
    short = make_product(sku="SHORT")
    plenty = make_product(sku="PLENTY")
    waiting_batch(product=short, quantity=5)
    waiting_batch(product=plenty, quantity=2)
    make_accounts(3, product=short)
    make_accounts(6, product=plenty)

    rows = {q.sku: q for q in fulfilment_queue_per_product()}

    assert (rows["SHORT"].in_stock, rows["SHORT"].shortfall) == (3, 2)
    assert rows["SHORT"].in_stock_display == "3"
    assert rows["PLENTY"].shortfall == 0
    assert rows["PLENTY"].in_stock_display == "more than 2"
    assert rows["PLENTY"].in_stock >= 3
