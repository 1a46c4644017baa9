"""The customer's journey in headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
fill the form, see the decisions, follow the e-mailed link, see "Compensate Product", reveal.

Checks run for real: the form's submission queues the check task (django-q in sync mode runs it
at commit), which reads the profiles over HTTP from the status double, approves, fulfils from
stock and e-mails the link. With SCREENSHOTS_DIR set, the pages are saved as PNGs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from django.core import mail
from django.utils import timezone

from compensation.models import AccountDecision, Decision, RequestStatus
from compensation.status.double import StatusDouble, profile
from inventory.crypto import credentials_open
from inventory.models import Account

from ..emails import link_in
from ..factories.compensation import request_with_decisions
from ..factories.inventory import AccountFactory, make_product
from ..factories.orders import delivered_line, make_order
from .support import shoot as _shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("customer_site"),
]


def test_customer_journey_from_form_to_revealed_replacement(
    page: Any, live_server: Any, double: StatusDouble
) -> None:
    order = make_order(
        order_id="A1001", email="buyer@example.com", placed_at=timezone.now() - timedelta(days=3)
    )
    product = make_product(sku="IG-AGED", name="Instagram account, aged 2019")
    line = delivered_line(quantity=2, order=order, product=product)
    locked, active = list(Account.objects.filter(line=line).order_by("id"))
    spare = cast(Account, AccountFactory(product=product))  # the stock the replacement comes from
    double.set(
        "instagram",
        locked.username,
        profile(username=locked.username, user_id=locked.platform_user_id, state="locked"),
    )
    double.set(
        "instagram",
        active.username,
        profile(username=active.username, user_id=active.platform_user_id, state="active"),
    )

    # 1. The form: conditions first, then the questions; no JavaScript needed.
    page.goto(live_server.url + "/")
    assert page.get_by_role("heading", name="Before you ask").is_visible()
    _shoot(page, "form")
    page.get_by_label("Your e-mail address").fill("buyer@example.com")
    page.get_by_label("Order number").fill("A1001")
    page.get_by_label("An account is locked").check()
    page.get_by_label("Tell us more (optional)").fill("One of the two accounts is locked.")
    page.get_by_role("group", name="“Change Password” warning").get_by_label("No").check()
    page.get_by_role("button", name="Check my accounts").click()

    # 2. The result page: every account with its decision and reason.
    page.wait_for_url(f"{live_server.url}/requests/*/")
    page.get_by_text("Every account has a decision").wait_for()
    body = page.inner_text("main")
    assert locked.username in body and active.username in body
    assert "Approved: the account is locked and was not used after delivery." in body
    assert "The account looks active and working." in body
    assert "Your replacement was delivered on" in body
    assert "pw-" not in page.content()  # never a credential on the result page
    _shoot(page, "result")

    # 3. The e-mailed link opens the order page: the replacement under the same line.
    # One e-mail: the acknowledgement, sent as soon as the request settled, with the outcome.
    assert [m.subject for m in mail.outbox] == ["Your replacement for order A1001 is ready"]
    delivered = mail.outbox
    assert delivered[0].to == ["buyer@example.com"]
    page.goto(link_in(delivered[0].body))
    assert page.get_by_role("heading", name="Order A1001").is_visible()
    section = page.locator("section", has_text="Instagram account, aged 2019")
    assert section.locator(".replacements").get_by_text("Compensate Product").first.is_visible()
    assert spare.username in section.locator(".replacements").inner_text()
    assert "Can be compensated until" not in body
    replacement_password = credentials_open(
        Account.objects.get(pk=spare.pk).credentials_sealed
    ).password
    assert replacement_password not in page.content()
    _shoot(page, "order")

    # 4. Credentials only after pressing the button (a POST).
    page.get_by_role("button", name="Show login details").click()
    page.get_by_text("Login details are shown below.").wait_for()
    assert replacement_password in page.inner_text("main")
    _shoot(page, "order-revealed")


def test_result_page_updates_itself_while_checks_run(page: Any, live_server: Any) -> None:
    line = delivered_line(quantity=1, product=make_product(name="X account, fresh"))
    request = request_with_decisions(
        line=line, status=RequestStatus.CHECKING, decisions=[(Decision.PENDING, "")]
    )

    page.goto(f"{live_server.url}/requests/{request.pk}/")
    assert page.get_by_text("Still open: 1 account is being checked.").is_visible()
    assert page.locator('meta[http-equiv="refresh"]').count() == 1

    # The check finishes in the background: the page shows it without anyone reloading it.
    AccountDecision.objects.filter(request=request).update(
        decision=Decision.REJECTED, rule="appears_active", decided_at=timezone.now()
    )
    type(request).objects.filter(pk=request.pk).update(status=RequestStatus.DECIDED)
    page.get_by_text("Every account has a decision").wait_for(timeout=10_000)
    assert "The account looks active and working." in page.inner_text("main")
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
