"""The check flow of compensation/services/checks.py over real HTTP to the status double."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compensation.models import (
    AccountDecision,
    CompensationRequest,
    LineClaim,
    ReplacementBatch,
)
from compensation.services.checks import (
    decisions_recheck_due,
    request_run_checks,
    requests_resume_stalled,
)
from compensation.services.submit import request_submit
from inventory.models import Event

from .factories.inventory import ProductFactory
from .factories.orders import OrderFactory, delivered_line

pytestmark = pytest.mark.django_db


def submit(line: Any, *, now: Any = None, warning: bool = False) -> CompensationRequest:
    # Capture on-commit callbacks without running them: the test drives the checks itself.
    return request_submit(
        email=line.order.email,
        order_id=line.order.order_id,
        reason="locked",
        password_change_warning=warning,
        skus=None,
        now=now or timezone.now(),
    ).request


def lock_all(double: Any, line: Any, **fields: Any) -> None:
    for account in line.accounts.all():
        double.set_profile(
            account.platform,
            account.username,
            state="locked",
            user_id=account.platform_user_id,
            **fields,
        )


def test_submission_queues_the_check_after_commit(django_capture_on_commit_callbacks: Any) -> None:
    line = delivered_line()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request = submit(line)
    assert len(callbacks) == 1
    assert request.status == "checking"
    assert list(AccountDecision.objects.values_list("decision", flat=True)) == ["pending"]
    assert Event.objects.filter(kind="request_received", request_id=request.id).count() == 1


def test_locked_accounts_approved_as_one_batch_per_line(status_double: Any) -> None:
    line = delivered_line(quantity=3)
    lock_all(status_double, line)
    request = submit(line)
    assert request_run_checks(request_id=request.id, now=timezone.now()) == 3

    decisions = AccountDecision.objects.filter(request=request)
    assert set(decisions.values_list("decision", "rule")) == {("approved", "locked_no_interaction")}
    batch = ReplacementBatch.objects.get()
    assert (batch.quantity, batch.line_id, batch.product_id, batch.state) == (
        3,
        line.id,
        line.product_id,
        "waiting",
    )
    assert set(decisions.values_list("batch_id", flat=True)) == {batch.id}
    assert LineClaim.objects.get(request=request).uses_compensation is True
    request.refresh_from_db()
    assert request.status == "decided"
    evidence = decisions.first().evidence  # type: ignore[union-attr]
    assert evidence["rule"] == "locked_no_interaction"
    assert evidence["status_service"]["response"]["state"] == "locked"


def test_running_the_check_twice_decides_nothing_twice(status_double: Any) -> None:
    line = delivered_line(quantity=2)
    lock_all(status_double, line)
    request = submit(line)
    now = timezone.now()
    request_run_checks(request_id=request.id, now=now)
    events_before = Event.objects.count()
    assert request_run_checks(request_id=request.id, now=now) == 0
    assert ReplacementBatch.objects.count() == 1
    assert Event.objects.count() == events_before


def test_nothing_qualifying_leaves_the_line_open_for_a_later_request(status_double: Any) -> None:
    line = delivered_line()
    account = line.accounts.get()
    status_double.set_profile(
        account.platform,
        account.username,
        state="active",
        user_id=account.platform_user_id,
        followers=250,
    )
    first = submit(line)
    request_run_checks(request_id=first.id, now=timezone.now())
    assert LineClaim.objects.get(request=first).uses_compensation is False

    status_double.set_profile(
        account.platform, account.username, state="locked", user_id=account.platform_user_id
    )
    second = submit(line)
    assert second.id != first.id
    request_run_checks(request_id=second.id, now=timezone.now())
    assert AccountDecision.objects.get(request=second).decision == "approved"

    third = submit(line)
    assert AccountDecision.objects.get(request=third).rule == "already_compensated"


def test_status_failure_is_unverified_then_rechecked_then_sent_to_a_person(
    status_double: Any, settings: Any
) -> None:
    settings.STATUS_RECHECK_DELAYS = [60, 300]
    line = delivered_line()
    account = line.accounts.get()
    status_double.fail(account.platform, account.username, status=503)
    received = timezone.now()
    request = submit(line, now=received)

    request_run_checks(request_id=request.id, now=received)
    decision = AccountDecision.objects.get()
    assert (decision.decision, decision.rule, decision.check_attempts) == (
        "unverified",
        "status_unavailable",
        1,
    )
    assert decision.next_check_at == received + timedelta(seconds=60)
    request.refresh_from_db()
    assert request.status == "checking"  # still being verified: no second request meanwhile

    assert decisions_recheck_due(now=received + timedelta(seconds=59)) == 0
    assert decisions_recheck_due(now=received + timedelta(seconds=61)) == 1
    decision.refresh_from_db()
    assert (decision.decision, decision.check_attempts) == ("unverified", 2)
    assert decision.next_check_at == received + timedelta(seconds=61 + 300)

    assert decisions_recheck_due(now=received + timedelta(seconds=400)) == 1
    decision.refresh_from_db()
    assert (decision.decision, decision.rule, decision.check_attempts) == (
        "manual_review",
        "status_unavailable",
        3,
    )
    assert decision.review_requested_at == received + timedelta(seconds=400)
    assert LineClaim.objects.get().uses_compensation is True
    request.refresh_from_db()
    assert request.status == "decided"


def test_recovered_status_service_decides_on_recheck(status_double: Any) -> None:
    line = delivered_line()
    account = line.accounts.get()
    status_double.fail(account.platform, account.username, status=500)
    received = timezone.now()
    request = submit(line, now=received)
    request_run_checks(request_id=request.id, now=received)
    assert AccountDecision.objects.get().decision == "unverified"

    lock_all(status_double, line, interactions={"likes": 1})
    decisions_recheck_due(now=received + timedelta(minutes=2))
    decision = AccountDecision.objects.get()
    assert (decision.decision, decision.rule) == ("approved", "locked_one_interaction")
    # Windows are judged at the moment the request was received, not at the re-check.
    assert decision.evidence["order_age_seconds"] == pytest.approx(
        (received - line.order.placed_at).total_seconds()
    )


def test_suspended_goes_to_review_with_its_queue_time(status_double: Any) -> None:
    line = delivered_line()
    account = line.accounts.get()
    status_double.set_profile(
        account.platform, account.username, state="suspended", user_id=account.platform_user_id
    )
    request = submit(line)
    now = timezone.now()
    request_run_checks(request_id=request.id, now=now)
    decision = AccountDecision.objects.get()
    assert (decision.decision, decision.rule, decision.review_requested_at) == (
        "manual_review",
        "suspended_no_interaction",
        now,
    )


def test_password_warning_rejects_every_account(status_double: Any) -> None:
    line = delivered_line(quantity=2)
    lock_all(status_double, line)
    request = submit(line, warning=True)
    request_run_checks(request_id=request.id, now=timezone.now())
    assert set(AccountDecision.objects.values_list("decision", "rule")) == {
        ("rejected", "password_change_warning")
    }
    assert LineClaim.objects.get().uses_compensation is False


def test_stalled_requests_are_requeued(
    django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    queued: list[tuple[str, str]] = []
    monkeypatch.setattr(
        "compensation.queueing.async_task",
        lambda func, *args, **kw: queued.append((func, args[0])),
    )
    line = delivered_line()
    received = timezone.now()
    request = submit(line, now=received)
    with django_capture_on_commit_callbacks(execute=True):
        assert requests_resume_stalled(now=received + timedelta(minutes=1)) == 0
        assert requests_resume_stalled(now=received + timedelta(minutes=6)) == 1
    assert queued == [("compensation.tasks.check_request", str(request.id))]


def _queries_to_decide(double: Any, quantity: int) -> int:
    line = delivered_line(
        quantity=quantity, product=ProductFactory.create(), order=OrderFactory.create()
    )
    lock_all(double, line)
    request = submit(line)
    with CaptureQueriesContext(connection) as ctx:
        request_run_checks(request_id=request.id, now=timezone.now())
    assert AccountDecision.objects.filter(request=request, decision="approved").count() == quantity
    return len(ctx.captured_queries)


@pytest.mark.postgres  # SQLite splits bulk statements by its bound-variable limit
def test_queries_to_decide_an_order_do_not_grow_with_its_accounts(status_double: Any) -> None:
    small = _queries_to_decide(status_double, 10)
    large = _queries_to_decide(status_double, 200)
    assert small == large
