"""The back office in headless Chromium at 1,280 px, as a manager and a support agent would use
it: credentials revealed through the page's own form (CSRF with the Origin a real browser sends),
a refused page with a way back, the admin home, and the quality report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from inventory.crypto import Credentials, credentials_seal
from orders.models import Event

from ..factories import AccountFactory
from ..factories_backoffice import agent, make_product, manager
from .conftest import admin_login

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
