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

from inventory.crypto import Credentials, credentials_seal
from inventory.models import Account, Event

from ..factories.compensation import agent, manager, review_cases, waiting_batch
from ..factories.inventory import AccountFactory, make_product
from .conftest import admin_login
from .office_data import quality_history

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
