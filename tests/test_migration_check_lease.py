"""Migration 0013 moves a check's claim from each pending account to its request: claims held at
deploy time are kept, requests already checked do not look as if they waited for a first check,
and going back restores the accounts' leases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from .factories.orders import delivered_line

BEFORE = [("compensation", "0012_decision_unclaimed_index")]
AFTER = [("compensation", "0013_request_check_lease")]


def _migrate(target: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def _request(apps: Any, *, status: str, decisions: list[tuple[str, Any]], received: Any) -> Any:
    """A request of the historical models, one decision (state, next_check_at) per account."""
    line = delivered_line(quantity=len(decisions))
    request = apps.get_model("compensation", "CompensationRequest").objects.create(
        order_id=line.order_id,
        email=line.order.email,
        reason="locked",
        password_change_warning=False,
        status=status,
        received_at=received,
    )
    claim = apps.get_model("compensation", "LineClaim").objects.create(
        request=request, line_id=line.id
    )
    decision_model = apps.get_model("compensation", "AccountDecision")
    for account, (state, next_check_at) in zip(
        line.accounts.order_by("id"), decisions, strict=True
    ):
        decision_model.objects.create(
            request=request,
            claim=claim,
            account_id=account.id,
            decision=state,
            next_check_at=next_check_at,
        )
    return request.pk


@pytest.mark.django_db(transaction=True)
def test_claims_move_to_their_requests_and_back() -> None:
    apps = _migrate(BEFORE)
    received = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    soon, later = received + timedelta(seconds=20), received + timedelta(seconds=25)
    being_checked = _request(
        apps,
        status="checking",
        decisions=[("pending", soon), ("pending", later)],
        received=received,
    )
    rechecks_left = _request(
        apps,
        status="checking",
        decisions=[("unverified", later), ("rejected", None)],
        received=received,
    )
    waiting = _request(apps, status="checking", decisions=[("pending", None)], received=received)
    decided = _request(apps, status="decided", decisions=[("rejected", None)], received=received)

    apps = _migrate(AFTER)

    requests = apps.get_model("compensation", "CompensationRequest").objects
    decisions = apps.get_model("compensation", "AccountDecision").objects
    assert dict(requests.values_list("pk", "check_lease_until")) == {
        being_checked: later,  # the latest of its accounts' leases
        rechecks_left: received,  # checked once: its claim is long over
        waiting: None,  # still waiting for its first check
        decided: None,
    }
    assert list(
        decisions.filter(decision="pending").order_by("id").values_list("next_check_at", flat=True)
    ) == [None, None, None]
    assert decisions.get(request_id=rechecks_left, decision="unverified").next_check_at == later

    apps = _migrate(BEFORE)

    decisions = apps.get_model("compensation", "AccountDecision").objects
    assert list(
        decisions.filter(decision="pending")
        .order_by("id")
        .values_list("request_id", "next_check_at")
    ) == [(being_checked, later), (being_checked, later), (waiting, None)]
    _migrate(AFTER)
