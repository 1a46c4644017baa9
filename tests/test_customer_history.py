"""The customer's history shown on each case: earlier requests across all their orders (matched by
e-mail, case-insensitively), approved/rejected counts and the claim-rate flag."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from compensation.customer_history import customer_claim_rate_flagged, customer_history
from compensation.models import Decision, RequestStatus

from .factories.compensation import request_with_decisions
from .factories.orders import delivered_line, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer() -> dict[str, Any]:
    """buyer@example.com bought 6 accounts on two orders (one typed with capitals) and asked
    twice before: 2 approved + 1 rejected on A1, 1 rejected on A2. Then asks a third time."""
    now = timezone.now()
    first = make_order(order_id="A1", email="Buyer@Example.com", placed_at=now - timedelta(days=20))
    second = make_order(order_id="A2", email="buyer@example.com", placed_at=now - timedelta(days=9))
    line1 = delivered_line(quantity=3, order=first)
    line2 = delivered_line(quantity=3, order=second)
    r1 = request_with_decisions(
        line=line1,
        decisions=[
            (Decision.APPROVED, "locked_no_interaction"),
            (Decision.APPROVED, "locked_one_interaction"),
            (Decision.REJECTED, "appears_active"),
        ],
        now=now - timedelta(days=15),
    )
    r2 = request_with_decisions(
        line=line2,
        decisions=[
            (Decision.REJECTED, "appears_active"),
            (Decision.REJECTED, "appears_active"),
            (Decision.REJECTED, "appears_active"),
        ],
        now=now - timedelta(days=5),
    )
    current = request_with_decisions(
        line=line2,
        decisions=[(Decision.PENDING, ""), (Decision.PENDING, ""), (Decision.PENDING, "")],
        status=RequestStatus.CHECKING,
        now=now,
    )
    # Someone else: never part of this customer's history.
    other = make_order(order_id="B1", email="other@example.com", placed_at=now - timedelta(days=4))
    request_with_decisions(
        line=delivered_line(quantity=1, order=other),
        decisions=[(Decision.APPROVED, "locked_no_interaction")],
        now=now - timedelta(days=1),
    )
    return {"now": now, "r1": r1, "r2": r2, "current": current}


def test_history_lists_earlier_requests_across_orders_newest_first(
    customer: dict[str, Any],
) -> None:
    current = customer["current"]
    history = customer_history(
        email="BUYER@example.com", before=current.received_at, exclude_request_id=current.pk
    )
    assert [(r.order_id, r.decisions) for r in history.earlier] == [
        ("A2", {"rejected": 3}),
        ("A1", {"approved": 2, "rejected": 1}),
    ]
    assert [r.id for r in history.earlier] == [customer["r2"].pk, customer["r1"].pk]
    assert [r.outcome for r in history.earlier] == ["3 rejected", "2 approved, 1 rejected"]
    assert history.earlier_total == 2
    assert (history.accounts_approved, history.accounts_rejected) == (2, 4)
    # 6 accounts asked about (3 + 3) of 6 bought
    assert (history.accounts_claimed, history.accounts_bought) == (6, 6)
    assert str(history.claim_rate) == "1.00"
    assert history.flagged is True


def test_the_flag_follows_the_thresholds(customer: dict[str, Any], settings: Any) -> None:
    current = customer["current"]
    kwargs = {"email": "buyer@example.com", "before": current.received_at}
    assert customer_claim_rate_flagged(**kwargs) is True
    settings.CLAIM_RATE_MIN_CLAIMS = 7  # only 6 accounts claimed
    assert customer_claim_rate_flagged(**kwargs) is False
    assert customer_history(**kwargs).flagged is False
    settings.CLAIM_RATE_MIN_CLAIMS = 3
    settings.CLAIM_RATE_THRESHOLD = 1.01
    assert customer_claim_rate_flagged(**kwargs) is False
    settings.CLAIM_RATE_THRESHOLD = 1.0  # "at or above"
    assert customer_claim_rate_flagged(**kwargs) is True


def test_history_only_looks_back_from_the_case(customer: dict[str, Any]) -> None:
    # Seen from the first request: nothing earlier, nothing flagged.
    first = customer["r1"]
    history = customer_history(email="buyer@example.com", before=first.received_at)
    assert history.earlier == []
    assert (history.accounts_claimed, history.accounts_approved) == (0, 0)
    assert history.accounts_bought == 3  # the second order was not placed yet
    assert history.flagged is False
    assert customer_claim_rate_flagged(email="buyer@example.com", before=first.received_at) is False


def test_a_new_customer_has_an_empty_history() -> None:
    history = customer_history(email="new@example.com", before=timezone.now())
    assert (history.earlier_total, history.accounts_bought, history.claim_rate) == (0, 0, None)
    assert history.flagged is False
