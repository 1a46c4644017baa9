"""Claim-rate review in the checks (policy.md, "Optional: claim-rate review"), over real HTTP to
the status double: off by default (the table applies exactly); on, a flagged customer's automatic
approval goes to a person with the rule kept, and the customer reads that a person will check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from compensation.models import AccountDecision, Decision, LineClaim, ReplacementBatch
from compensation.selectors import request_view
from compensation.services.checks import request_run_checks
from compensation.services.submit import request_submit

from .factories.compensation import request_with_decisions
from .factories.orders import delivered_line, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def frequent_claimer() -> Any:
    """claims@example.com bought 4 accounts on two earlier orders and asked about all 4 (one
    approved, three rejected); now a third order with one account the status service reports
    locked."""
    now = timezone.now()
    earlier: dict[str, list[tuple[str, str]]] = {
        "C1": [(Decision.APPROVED, "locked_no_interaction"), (Decision.REJECTED, "appears_active")],
        "C2": [(Decision.REJECTED, "appears_active"), (Decision.REJECTED, "appears_active")],
    }
    for (number, outcomes), days in zip(earlier.items(), (20, 12), strict=True):
        order = make_order(
            order_id=number, email="claims@example.com", placed_at=now - timedelta(days=days)
        )
        line = delivered_line(quantity=2, order=order)
        request_with_decisions(line=line, decisions=outcomes, now=now - timedelta(days=days - 1))
    order = make_order(order_id="C3", email="Claims@Example.com", placed_at=now - timedelta(days=2))
    return delivered_line(quantity=1, order=order)


def _check(line: Any, double: Any) -> AccountDecision:
    account = line.accounts.get()
    double.set_profile(
        account.platform, account.username, state="locked", user_id=account.platform_user_id
    )
    request = request_submit(
        email="claims@example.com",
        order_id=line.order.order_id,
        reason="locked again",
        password_change_warning=False,
        skus=None,
        now=timezone.now(),
    ).request
    request_run_checks(request_id=request.id, now=timezone.now())
    return AccountDecision.objects.select_related("claim").get(request=request)


def test_off_by_default_the_table_applies_exactly(
    frequent_claimer: Any, status_double: Any, settings: Any
) -> None:
    assert settings.CLAIM_RATE_REVIEW is False
    decision = _check(frequent_claimer, status_double)
    assert (decision.decision, decision.rule) == ("approved", "locked_no_interaction")
    assert "claim_rate_flagged" not in decision.evidence
    assert ReplacementBatch.objects.filter(line=frequent_claimer).count() == 1


def test_on_a_flagged_customers_approval_goes_to_a_person(
    frequent_claimer: Any, status_double: Any, settings: Any
) -> None:
    settings.CLAIM_RATE_REVIEW = True
    decision = _check(frequent_claimer, status_double)
    assert (decision.decision, decision.rule) == ("manual_review", "locked_no_interaction")
    assert decision.evidence["claim_rate_flagged"] is True
    assert decision.review_requested_at is not None  # in the queue
    assert decision.batch_id is None
    assert not ReplacementBatch.objects.filter(line=frequent_claimer).exists()
    # The line's compensation is in use, as for any case in review.
    assert LineClaim.objects.get(pk=decision.claim_id).uses_compensation is True
    view = request_view(request_id=decision.request_id)
    assert view is not None
    [account] = view.lines[0].accounts
    assert account.decision == "manual_review"
    # Waiting for a person, with no promise of a replacement (customer_messages.py).
    assert account.message == (
        "A member of our team will review this account and e-mail you the outcome."
    )


def test_on_but_under_the_thresholds_nothing_changes(
    frequent_claimer: Any, status_double: Any, settings: Any
) -> None:
    settings.CLAIM_RATE_REVIEW = True
    settings.CLAIM_RATE_MIN_CLAIMS = 5  # only 4 claimed
    decision = _check(frequent_claimer, status_double)
    assert (decision.decision, decision.rule) == ("approved", "locked_no_interaction")
    assert "claim_rate_flagged" not in decision.evidence
