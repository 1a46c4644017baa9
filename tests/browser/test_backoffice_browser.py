"""The back office in headless Chromium at 1,280 px, as a manager and a support agent would use
it: credentials revealed through the page's own form (CSRF with the Origin a real browser sends),
a refused page with a way back, the admin home, and the quality report."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from compensation.models import AccountDecision, CannedReason
from inventory.crypto import Credentials, credentials_seal
from inventory.models import Account, Event

from ..factories.compensation import agent, manager, review_cases, waiting_batch
from ..factories.inventory import AccountFactory, make_product
from .conftest import admin_login
from .office_data import quality_history, review_queue_cases

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Shoot = Callable[[Any, str], None]


def test_manager_reveals_an_accounts_credentials(office_page: Any, live_server: Any) -> None:
    product = make_product(sku="IG-AGED", name="Instagram account, aged 2019")
    account = AccountFactory.create(
        product=product,
        username="ig_reveal_me",
        credentials_sealed=credentials_seal(
            Credentials(password="Browser-S3cret!", email="box@mail.test", email_password="mbox")
        ),
    )
    boss = manager("boss")
    page = office_page
    admin_login(page, live_server.url, "boss")
    page.goto(live_server.url + reverse("admin:inventory_account_change", args=[account.pk]))
    assert "Browser-S3cret!" not in page.content()
    page.get_by_role("link", name="Reveal credentials…").click()
    page.wait_for_url("**/reveal/")
    assert "Browser-S3cret!" not in page.content()  # only after the POST
    page.get_by_role("button", name="Reveal credentials").click()
    page.get_by_text("Shown once.").wait_for()
    body = page.inner_text("#content-main")
    assert "Browser-S3cret!" in body and "box@mail.test" in body
    event = Event.objects.get(kind="credentials_revealed")
    assert (event.account_id, event.actor_id) == (account.pk, boss.pk)


def test_agent_is_refused_the_reveal_with_a_page_that_links_back(
    office_page: Any, live_server: Any
) -> None:
    account = AccountFactory.create(username="ig_not_for_agents")
    agent("ann")
    page = office_page
    admin_login(page, live_server.url, "ann")
    queue = live_server.url + reverse("admin:compensation_accountdecision_changelist")
    page.goto(queue)
    reveal = live_server.url + reverse("admin:inventory_account_reveal", args=[account.pk])
    response = page.goto(reveal, referer=queue)
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="You do not have access to this page").is_visible()
    assert "ask a manager" in page.inner_text("#content-main")
    page.get_by_role("link", name="← Back to where you were").click()
    page.wait_for_url(queue)
    # Without a referrer (typed or bookmarked), the way back is the back office home.
    page.goto(reveal)
    page.get_by_role("link", name="Back office home").click()
    page.wait_for_url(live_server.url + "/admin/")
    assert not Event.objects.filter(kind="credentials_revealed").exists()


def test_admin_home_and_quality_report(
    office_page: Any, live_server: Any, screenshot: Shoot
) -> None:
    now = timezone.now()
    products = quality_history(now=now)
    review_cases(
        2,
        requested_at=now - timedelta(hours=31),
        product=products["IG-AGED"],
        supplier="Blue Harbor",
    )
    review_cases(
        1,
        requested_at=now - timedelta(hours=3),
        product=products["X-FRESH"],
        supplier="Cedar Supply",
    )
    waiting_batch(product=products["X-FRESH"], quantity=2, approved_at=now - timedelta(hours=6))
    manager("maria")
    page = office_page
    admin_login(page, live_server.url, "maria")

    # The home: the work first, the oldest case past the SLA in red.
    review = page.locator("#work-review")
    assert "sla-breach" in (review.get_attribute("class") or "")
    assert review.locator("td").nth(0).inner_text() == "3"
    assert review.locator("td.age").inner_text() == "1d 7h"
    colour = review.locator("td.age").evaluate("cell => getComputedStyle(cell).color")
    assert colour in ("rgb(186, 33, 33)", "rgb(255, 113, 94)")  # the admin's error red
    assert page.locator("#work-products").get_by_text("X-FRESH").is_visible()
    screenshot(page, "admin-home")

    # The replacement batches list fits the screen as well.
    page.get_by_role("link", name="Replacement batches waiting for stock").click()
    results = page.locator("#changelist .results")
    scroll_width, client_width = results.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert scroll_width <= client_width, f"batches: {scroll_width} px in {client_width} px"
    page.goto(live_server.url + "/admin/")

    # The quality report: Cedar Supply's recent weeks stand out.
    page.get_by_role("link", name="Supplier and stock quality").click()
    page.wait_for_url("**/admin/reports/quality/")
    assert page.locator("#quality-chart svg polyline").count() == 3
    first = page.locator("#quality-table tbody tr").first
    assert first.locator("strong").inner_text() == "Cedar Supply"
    assert "bad" in (first.get_attribute("class") or "")
    assert first.get_by_role("link", name=re.compile(r"Retire \d+ in stock…")).is_visible()
    no_scroll = page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert no_scroll
    screenshot(page, "quality-report")

    # Retiring Cedar Supply's remaining stock: the count first, then exactly that many.
    in_stock = Account.objects.filter(supplier="Cedar Supply", state="in_stock").count()
    first.get_by_role("link", name=f"Retire {in_stock} in stock…").click()
    assert f"{in_stock} accounts of supplier Cedar Supply are in stock now" in page.inner_text(
        "#retire-count"
    )
    page.get_by_label("Why (kept in the audit trail)").fill("Locked in bulk since March")
    page.get_by_role("button", name=f"Retire {in_stock} accounts").click()
    page.wait_for_url("**/admin/reports/quality/")
    assert f"Retired {in_stock} in-stock account(s) of supplier Cedar Supply." in page.inner_text(
        ".messagelist"
    )
    assert not Account.objects.filter(supplier="Cedar Supply", state="in_stock").exists()


KEY_COLUMNS = ("account", "waiting", "product", "order", "customer", "rule", "held by")


def test_the_queue_at_1280_px_shows_its_key_columns_without_horizontal_scroll(
    office_page: Any, live_server: Any, screenshot: Shoot, settings: Any
) -> None:
    settings.REVIEW_SLA_HOURS = 24
    cases = review_queue_cases(now=timezone.now())
    bob = agent("bob")
    AccountDecision.objects.filter(pk=cases[2].pk).update(
        claimed_by=bob, claimed_until=timezone.now() + timedelta(minutes=12)
    )
    agent("ann")
    page = office_page
    admin_login(page, live_server.url, "ann")
    page.goto(live_server.url + reverse("admin:compensation_accountdecision_changelist"))
    assert page.viewport_size == {"width": 1280, "height": 800}

    results = page.locator("#changelist .results")
    scroll_width, client_width = results.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert scroll_width <= client_width, f"table {scroll_width} px in a {client_width} px box"
    page_scroll = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert page_scroll[0] <= page_scroll[1]
    headers = [h.strip() for h in page.locator("#result_list thead th").all_inner_texts()]
    assert [h.lower() for h in headers if h] == list(KEY_COLUMNS)
    for name in KEY_COLUMNS:
        box = page.locator("#result_list thead th", has_text=name).first.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, name

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 6
    first = rows.first
    assert first.locator(".field-account_username").inner_text() == "ig_maya.travels"
    assert "sla-breach" in (first.locator(".age").get_attribute("class") or "")  # 31 h
    assert "sla-near" in (rows.nth(1).locator(".age").get_attribute("class") or "")  # 20 h
    assert rows.nth(2).locator("td.field-claimed_by_name").inner_text().startswith("bob until")
    assert rows.nth(0).locator("td.field-customer_email").inner_text() == "maya.r@example.com"
    screenshot(page, "review-queue")

    # Search by the customer's e-mail, the order id and the account's username.
    for query, expected in (("jonas.weber@", "xk_crypto_daily"), ("A2050", "tt_dance_mira")):
        page.locator("#searchbar").fill(query)
        page.locator("#searchbar").press("Enter")
        page.wait_for_load_state()
        assert page.locator("#result_list tbody tr").count() == 1
        assert page.locator(".field-account_username").inner_text() == expected


def test_an_agent_decides_three_cases_with_and_open_next(
    office_page: Any, live_server: Any, screenshot: Shoot
) -> None:
    cases = review_queue_cases(now=timezone.now())
    c1, c2, c3, c4, c5, c6 = cases
    bob, ann = agent("bob"), agent("ann")
    # c2 is held by a colleague: "open next" skips it.
    AccountDecision.objects.filter(pk=c2.pk).update(
        claimed_by=bob, claimed_until=timezone.now() + timedelta(minutes=12)
    )
    CannedReason.objects.create(
        text="The profile shows the account was used for posting after delivery, so we cannot "
        "replace it under our policy; please contact us if you think this is a mistake."
    )
    page = office_page
    admin_login(page, live_server.url, "ann")
    page.goto(live_server.url + reverse("admin:compensation_accountdecision_changelist"))
    page.get_by_role("link", name="ig_maya.travels").click()
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == (
        f"Case #{c1.pk} — instagram:ig_maya.travels (IG-AGED), order A2041"
    )
    screenshot(page, "review-case")

    # 1. Approve with a message to the customer, and go on: c2 is skipped (held by bob).
    page.get_by_label("Message to the customer").fill("Sorry for the trouble!")
    page.get_by_role("button", name="Approve and open next").click()
    page.wait_for_url(f"**/accountdecision/{c3.pk}/change/")
    assert "Approved: a replacement is on its way." in page.inner_text(".messagelist")
    assert "You hold this case until" in page.inner_text("#review-actions")

    # 2. Reject with a canned reason, readable in full, and go on.
    page.get_by_role("radio", name=re.compile(r"The profile shows the account was used")).check()
    page.get_by_role("button", name="Reject and open next").click()
    page.wait_for_url(f"**/accountdecision/{c4.pk}/change/")
    assert "Rejected." in page.inner_text(".messagelist")

    # 3. Approve and go on to c5.
    page.get_by_role("button", name="Approve and open next").click()
    page.wait_for_url(f"**/accountdecision/{c5.pk}/change/")

    decided = {
        d.pk: (d.decision, d.reviewed_by_id, d.customer_message)
        for d in AccountDecision.objects.filter(pk__in=[c1.pk, c2.pk, c3.pk, c4.pk])
    }
    assert decided[c1.pk] == ("approved", ann.pk, "Sorry for the trouble!")
    assert decided[c2.pk] == ("manual_review", None, "")  # bob's case untouched
    assert decided[c3.pk][:2] == ("rejected", ann.pk)
    assert decided[c3.pk][2].startswith("The profile shows the account was used for posting")
    assert decided[c4.pk] == ("approved", ann.pk, "")
    assert AccountDecision.objects.get(pk=c5.pk).claimed_by_id == ann.pk
    assert AccountDecision.objects.get(pk=c6.pk).claimed_by_id is None
