"""The review queue and requests as CSV: the rows, and a customer's formula never runs."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from compensation.csv_export import csv_lines
from compensation.exports import (
    QUEUE_HEADER,
    REQUESTS_HEADER,
    queue_rows,
    request_state,
    requests_rows,
)
from compensation.models import AccountDecision, CompensationRequest, Decision

from .factories.compensation import agent, deliver_replacement, request_with_decisions, review_cases
from .factories.inventory import make_product
from .factories.orders import delivered_line, make_order

pytestmark = pytest.mark.django_db


def _csv(header: tuple[str, ...], rows: object) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(csv_lines(header, rows)))))  # type: ignore[arg-type]


def test_queue_csv_rows_and_a_formula_in_the_customers_reason() -> None:
    now = timezone.now()
    product = make_product(sku="IG-AGED", name="Instagram account, aged 2019")
    case = review_cases(1, requested_at=now - timedelta(hours=3), product=product)[0]
    CompensationRequest.objects.filter(pk=case.request_id).update(
        reason='=HYPERLINK("http://evil.test","open")'
    )
    holder = agent("ann")
    AccountDecision.objects.filter(pk=case.pk).update(
        claimed_by=holder, claimed_until=now + timedelta(minutes=5)
    )
    case.refresh_from_db()
    rows = _csv(QUEUE_HEADER, queue_rows(AccountDecision.objects.all(), now=now))
    assert rows[0] == list(QUEUE_HEADER)
    order = case.request.order
    assert rows[1] == [
        str(case.pk),
        f"{case.review_requested_at:%Y-%m-%d %H:%M:%S}",
        "3.0",
        "IG-AGED",
        "Instagram account, aged 2019",
        order.order_id,
        order.email,
        case.account.username,
        "instagram",
        "suspended_no_interaction",
        "Waiting for a person",
        "ann",
        '\'=HYPERLINK("http://evil.test","open")',
    ]


def test_requests_csv_counts_each_requests_accounts() -> None:
    now = timezone.now()
    order = make_order(order_id="A7", email="buyer@example.com", placed_at=now - timedelta(days=2))
    line = delivered_line(quantity=3, order=order)
    request = request_with_decisions(
        line=line,
        decisions=[
            (Decision.APPROVED, "locked_no_interaction"),
            (Decision.MANUAL_REVIEW, "suspended_no_interaction"),
            (Decision.REJECTED, "appears_active"),
        ],
        now=now,
    )
    deliver_replacement(batch=request.batches.get())
    rows = _csv(REQUESTS_HEADER, requests_rows(CompensationRequest.objects.all()))
    assert rows[1][:12] == [
        str(request.pk),
        "A7",
        "buyer@example.com",
        f"{now:%Y-%m-%d %H:%M:%S}",
        "Waiting for a person",
        "3",
        "1",
        "1",
        "1",
        "0",
        "0",
        "1",
    ]


def test_requests_csv_counts_each_request_on_its_own_row() -> None:
    """Counted per row (a subquery each): two requests' decisions never mix, and a kind a
    request has none of is 0, not empty."""
    now = timezone.now()
    first = request_with_decisions(
        line=delivered_line(quantity=2, order=make_order(order_id="C1", placed_at=now)),
        decisions=[(Decision.REJECTED, "appears_active"), (Decision.REJECTED, "appears_active")],
        now=now,
    )
    second = request_with_decisions(
        line=delivered_line(quantity=1, order=make_order(order_id="C2", placed_at=now)),
        decisions=[(Decision.PENDING, "")],
        status="checking",
        now=now - timedelta(minutes=1),
    )
    rows = _csv(REQUESTS_HEADER, requests_rows(CompensationRequest.objects.all()))
    by_id = {row[0]: row[5:11] for row in rows[1:]}
    assert by_id == {
        str(first.pk): ["2", "0", "0", "2", "0", "0"],
        str(second.pk): ["1", "0", "0", "0", "0", "1"],
    }


def test_request_state_for_people() -> None:
    assert request_state({"pending": 1, "manual_review": 1}) == "Being checked"
    assert request_state({"unverified": 1}) == "Being checked"
    assert request_state({"manual_review": 2, "approved": 1}) == "Waiting for a person"
    assert request_state({"approved": 1}) == "Done"
