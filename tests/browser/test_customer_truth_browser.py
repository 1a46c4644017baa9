"""What the customer sees and can do, in headless Chromium: the error summary takes the focus, a
claim from the order page, the result page after a person decided, the banner while cases wait,
and the order page telling each account's story in the reader's time zone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from compensation.models import CompensationRequest, Decision
from compensation.order_page import order_page_link_issue
from compensation.services.review import review_approve
from compensation.status.double import StatusDouble, profile
from inventory.crypto import credentials_open
from inventory.models import Account

from ..factories.compensation import agent, deliver_replacement, request_with_decisions
from ..factories.inventory import make_accounts, make_product
from ..factories.orders import delivered_line, make_order
from .support import DESKTOP, PHONE, shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("customer_site"),
]


def _focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_failed_submit_shows_the_summary_first_and_moves_the_focus_to_it(
    page: Any, live_server: Any, viewport: dict[str, int]
) -> None:
    page.set_viewport_size(viewport)
    page.goto(live_server.url + "/")
    page.get_by_label("Your e-mail address").fill("buyer@example")
    page.get_by_label("Order number").fill("A1001")
    page.get_by_role("button", name="Check my accounts").click()

    summary = page.get_by_role("alert")
    summary.wait_for()
    assert _focused_id(page) == "error-summary"
    box = summary.bounding_box()
    assert box is not None and box["y"] < 250  # at the top, not below the conditions card
    assert summary.is_visible() and page.evaluate("window.scrollY") < box["y"] + box["height"]
    assert summary.get_by_role("link").all_inner_texts() == [
        "Your e-mail address: Enter a valid e-mail address.",
        "What went wrong?: This field is required.",
        "When you logged in, did you see a “Change Password” warning?: This field is required.",
    ]
    assert page.get_by_label("Order number").input_value() == "A1001"  # the answers are kept
    if viewport == DESKTOP:
        shoot(page, "form-errors")

    summary.get_by_role("link", name="What went wrong?").click()
    assert _focused_id(page) == "id_reason_0"
    summary.get_by_role("link", name="Your e-mail address").click()
    assert _focused_id(page) == "id_email"


def test_a_claim_from_the_order_page(page: Any, live_server: Any, double: StatusDouble) -> None:
    order = make_order(order_id="D1002", email="buyer@example.com")
    product = make_product(sku="IG AGED 2019", name="Instagram account, aged 2019")
    line = delivered_line(quantity=2, order=order, product=product)
    other = delivered_line(quantity=1, order=order, product=make_product(name="X account"))
    make_accounts(2, product=product)
    locked, active = line.accounts.order_by("id")
    for account, state in ((locked, "locked"), (active, "active")):
        double.set(
            "instagram",
            account.username,
            profile(username=account.username, user_id=account.platform_user_id, state=state),
        )

    page.goto(order_page_link_issue(order=order, now=timezone.now()))
    claim = page.locator("#claim")
    claim.get_by_label(locked.username).check()
    # Ticking an account names it in the message and ticks its product.
    assert claim.get_by_label("Tell us more (optional)").input_value() == (
        f"Accounts: {locked.username}\n"
    )
    assert claim.get_by_label("Instagram account, aged 2019 (IG AGED 2019)").is_checked()
    assert not claim.get_by_label(f"X account ({other.product.sku})").is_checked()
    claim.get_by_label("An account is locked").check()
    claim.get_by_role("group", name="“Change Password” warning").get_by_label("No").check()
    shoot(page, "order-claim")
    claim.get_by_role("button", name="Check these products").click()

    page.wait_for_url(f"{live_server.url}/requests/*/")
    page.get_by_text("Every account has a decision").wait_for()
    request = CompensationRequest.objects.get()
    assert request.requested_skus == ["IG AGED 2019"]
    assert request.reason == f"Account locked: Accounts: {locked.username}"
    body = page.inner_text("main")
    assert "Approved: the account is locked and was not used after delivery." in body
    assert "The account looks active and working." in body
    assert other.accounts.get().username not in body


def test_the_result_page_after_a_staff_approval_shows_the_reviewer_message(
    page: Any, live_server: Any
) -> None:
    line = delivered_line(quantity=2, product=make_product(name="TikTok account, 1k followers"))
    make_accounts(2, product=line.product)
    request = request_with_decisions(
        line=line, decisions=[(Decision.MANUAL_REVIEW, "suspended_no_interaction")] * 2
    )
    review_approve(
        decision_ids=list(request.decisions.values_list("id", flat=True)),
        actor=agent(),
        now=timezone.now(),
        customer_message="We confirmed the suspension with the platform.",
    )

    page.goto(f"{live_server.url}/requests/{request.pk}/")
    page.get_by_text("Every account has a decision and every replacement has been").wait_for()

    main = page.inner_text("main")
    assert main.count("Their message: “We confirmed the suspension with the platform.”") == 2
    assert main.count("Our team reviewed this account and approved a replacement.") == 2
    assert "will review" not in main and "waiting for a person" not in main.lower()
    shoot(page, "result-reviewed")


def test_the_banner_says_which_cases_wait_for_a_person(page: Any, live_server: Any) -> None:
    line = delivered_line(quantity=4, product=make_product(name="X account, aged 2020"))
    request = request_with_decisions(
        line=line,
        decisions=[
            (Decision.MANUAL_REVIEW, "suspended_no_interaction"),
            (Decision.MANUAL_REVIEW, "interactions_unknown"),
            (Decision.MANUAL_REVIEW, "profile_not_found"),
            (Decision.REJECTED, "multiple_interactions"),
        ],
    )

    page.goto(f"{live_server.url}/requests/{request.pk}/")

    banner = page.get_by_role("status").filter(has_text="Still open")
    assert banner.inner_text().strip() == "Still open: 3 accounts are waiting for a person."
    assert page.locator("#counters").inner_text().split("\n") == [
        "Waiting for a person: 3",
        "Not replaced: 1",
    ]
    assert "Every account has a decision" not in page.inner_text("main")
    shoot(page, "result-waiting")


def test_the_order_page_tells_each_account_in_local_time_with_copy_buttons(
    browser: Any, live_server: Any
) -> None:
    now = timezone.now()
    order = make_order(order_id="D1005", placed_at=now - timedelta(days=4))
    line = delivered_line(
        quantity=3, order=order, product=make_product(name="Instagram account, fresh")
    )
    other = delivered_line(quantity=1, order=order, product=make_product(name="Reddit account"))
    request = request_with_decisions(
        line=line,
        decisions=[
            (Decision.APPROVED, "locked_no_interaction"),
            (Decision.MANUAL_REVIEW, "suspended_no_interaction"),
            (Decision.REJECTED, "appears_active"),
        ],
    )
    replacement = deliver_replacement(batch=request.batches.get())[0]
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id="America/New_York")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    try:
        page.goto(order_page_link_issue(order=order, now=now))

        section = page.locator(f"#line-{line.pk}").locator("xpath=..")
        text = section.inner_text()
        # A replacement was approved on this line: its one compensation is used.
        assert "This product was compensated in your request of" in text
        assert "Replacement delivered" in text and "Waiting for a person" in text
        assert "Not replaced" in text
        assert (
            page.locator(f"#line-{other.pk}")
            .locator("xpath=..")
            .get_by_text("25 days left")
            .is_visible()
        )
        placed = page.locator("time").first
        assert placed.get_attribute("data-local") == "America/New_York"
        assert placed.inner_text().endswith(("EST", "EDT", "GMT-5", "GMT-4"))
        assert placed.get_attribute("title", timeout=1000).endswith("UTC")
        shoot(page, "order-states")

        page.get_by_role("button", name="Show login details").click()
        page.get_by_text("Login details are shown below.").wait_for()
        password = credentials_open(
            Account.objects.get(pk=replacement.pk).credentials_sealed
        ).password
        page.locator(f"#account-{replacement.pk}").get_by_role(
            "button", name="Copy: Password"
        ).click()
        page.get_by_text("Copied").first.wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == password
    finally:
        context.close()
