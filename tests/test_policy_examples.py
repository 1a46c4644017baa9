"""docs/policy.md's worked examples, end to end: a real order, the request service, the status
double over real HTTP, the rule engine, and the customer view the API and the page render."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from compensation.models import CompensationRequest, LineClaim
from compensation.selectors import request_view, request_view_json
from compensation.services.checks import request_run_checks
from compensation.services.submit import request_submit
from compensation.status.double import hang
from inventory.interactions import INTERACTION_KINDS

from .factories.orders import OrderFactory, delivered_line

pytestmark = pytest.mark.django_db

ZERO = dict.fromkeys(INTERACTION_KINDS, 0)

# (order age in days, observation, customer saw "Change Password", decision, rule)
EXAMPLES: list[tuple[float, dict[str, Any] | str, bool, str, str]] = [
    (
        3,
        {"state": "locked", "interactions": {**ZERO, "likes": 1}},
        False,
        "approved",
        "locked_one_interaction",
    ),
    (
        3,
        {"state": "suspended", "interactions": {**ZERO, "posts": 2, "comments": 1}},
        False,
        "rejected",
        "multiple_interactions",
    ),
    (
        3,
        {"state": "suspended", "interactions": None},
        False,
        "manual_review",
        "interactions_unknown",
    ),
    (5, {"state": "active", "followers": 240}, False, "approved", "followers_decreased"),
    (10, {"state": "active", "followers": 240}, False, "rejected", "appears_active"),
    (31, {"state": "locked"}, False, "rejected", "outside_window"),
    (3, "timeout", False, "unverified", "status_unavailable"),
    (3, {"state": "locked", "username": "New_Name"}, False, "rejected", "username_changed"),
    (3, {"state": "locked"}, True, "rejected", "password_change_warning"),
]


def _serve(double: Any, account: Any, observation: dict[str, Any] | str) -> None:
    if observation == "timeout":
        double.set(account.platform, account.username, hang(5))
        return
    assert isinstance(observation, dict)
    body = {
        "platform": account.platform,
        "user_id": account.platform_user_id,
        "username": account.username,
        "state": "active",
        "followers": 250,
        "interactions": ZERO,
        **observation,
    }
    double.set(account.platform, account.username, body)


@pytest.mark.parametrize(("days", "observation", "warning", "decision", "rule"), EXAMPLES)
def test_worked_example(
    status_double: Any,
    settings: Any,
    days: float,
    observation: dict[str, Any] | str,
    warning: bool,
    decision: str,
    rule: str,
) -> None:
    settings.STATUS_API_READ_TIMEOUT = 0.2  # the hanging service times out on every try, fast
    settings.STATUS_API_DEADLINE = 1.0
    now = timezone.now()
    line = delivered_line(order=OrderFactory.create(placed_at=now - timedelta(days=days)))
    account = line.accounts.get()
    _serve(status_double, account, observation)

    request = request_submit(
        email=line.order.email,
        order_id=line.order.order_id,
        reason="It stopped working",
        password_change_warning=warning,
        skus=None,
        now=now,
    ).request
    request_run_checks(request_id=request.id, now=now)

    view = request_view(request_id=request.id)
    assert view is not None
    shown = request_view_json(view)["lines"][0]["accounts"][0]
    assert (shown["username"], shown["decision"], shown["rule"]) == (
        account.username,
        decision,
        rule,
    )
    assert shown["message"]  # a plain-language reason, never empty
    assert shown["replacement"] == ({"state": "awaiting_stock"} if decision == "approved" else None)


def test_worked_example_line_already_compensated_last_week(status_double: Any) -> None:
    now = timezone.now()
    line = delivered_line(order=OrderFactory.create(placed_at=now - timedelta(days=3)))
    account = line.accounts.get()
    _serve(status_double, account, {"state": "locked"})
    last_week = CompensationRequest.objects.create(
        order=line.order,
        email=line.order.email,
        reason="locked",
        password_change_warning=False,
        status="decided",
        received_at=now - timedelta(days=7),
    )
    LineClaim.objects.create(request=last_week, line=line, uses_compensation=True)

    request = request_submit(
        email=line.order.email,
        order_id=line.order.order_id,
        reason="locked again",
        password_change_warning=False,
        skus=None,
        now=now,
    ).request

    view = request_view(request_id=request.id)
    assert view is not None and view.status == "decided"
    shown = request_view_json(view)["lines"][0]["accounts"][0]
    assert (shown["decision"], shown["rule"]) == ("rejected", "already_compensated")
    day = last_week.received_at
    assert f"in your request of {day.day} {day:%B %Y}." in shown["message"]
    assert status_double.total_requests == 0  # a refused line is not even looked up
