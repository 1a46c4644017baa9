"""A check task takes other requests waiting for their first check (compensation/services/
check_claims.py): their status calls together, each request stored in its own transaction; the
tasks of the requests it took find nothing free; a claim lost with its worker is taken back."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compensation.models import AccountDecision, CompensationRequest, ReplacementBatch
from compensation.services import check_store
from compensation.services.check_claims import CHECK_LEASE, decisions_claim_for_check
from compensation.services.checks import (
    STALLED_AFTER,
    request_run_checks,
    requests_resume_stalled,
)
from compensation.services.submit import request_submit
from inventory.models import Account, Event

from .factories.inventory import AccountFactory, ProductFactory
from .factories.orders import delivered_line

pytestmark = pytest.mark.django_db


def _submit(line: Any, now: Any) -> CompensationRequest:
    return request_submit(
        email=line.order.email,
        order_id=line.order.order_id,
        reason="locked",
        password_change_warning=False,
        skus=None,
        now=now,
    ).request


def _waiting(double: Any, count: int, *, quantity: int = 1, product: Any = None) -> list[Any]:
    """`count` submitted requests of `quantity` locked accounts each, oldest first."""
    requests = []
    for _ in range(count):
        line = delivered_line(quantity=quantity, product=product or ProductFactory.create())
        for account in line.accounts.all():
            double.set_profile(
                account.platform, account.username, state="locked", user_id=account.platform_user_id
            )
        requests.append(_submit(line, timezone.now()))
    return requests


def _decisions(request: CompensationRequest) -> list[str]:
    return list(
        AccountDecision.objects.filter(request=request)
        .order_by("id")
        .values_list("decision", flat=True)
    )


def test_a_check_task_decides_the_requests_waiting_before_it_too(status_double: Any) -> None:
    first, second, third = _waiting(status_double, 3)
    now = timezone.now()

    assert request_run_checks(request_id=second.id, now=now) == 3

    for request in (first, second, third):
        request.refresh_from_db()
        assert (request.status, _decisions(request)) == ("decided", ["approved"])
        # Each request was written in its own transaction: one decided event each.
        assert Event.objects.filter(kind="request_decided", request_id=request.id).count() == 1
    assert ReplacementBatch.objects.count() == 3
    assert AccountDecision.objects.filter(next_check_at__isnull=False).count() == 0
    assert status_double.total_requests == 3


def test_the_tasks_of_requests_taken_along_decide_nothing_twice_in_one_query(
    status_double: Any,
) -> None:
    requests = _waiting(status_double, 3)
    now = timezone.now()
    request_run_checks(request_id=requests[0].id, now=now)
    events, calls = Event.objects.count(), status_double.total_requests

    for request in requests:  # their own tasks, and a twin of the first
        with CaptureQueriesContext(connection) as queries:
            assert request_run_checks(request_id=request.id, now=now) == 0
        assert len(queries.captured_queries) == 1
    assert (Event.objects.count(), status_double.total_requests) == (events, calls)
    assert ReplacementBatch.objects.count() == 3


def test_a_request_being_checked_by_another_task_is_left_to_it_until_its_lease_ends(
    status_double: Any,
) -> None:
    (request,) = _waiting(status_double, 1)
    now = timezone.now()
    taken = decisions_claim_for_check(request_id=request.id, now=now)  # another task
    assert taken == [request.id]
    lease = CompensationRequest.objects.get(pk=request.pk).check_lease_until
    assert lease == now + CHECK_LEASE

    assert request_run_checks(request_id=request.id, now=now + timedelta(seconds=5)) == 0
    assert _decisions(request) == ["pending"]
    assert status_double.total_requests == 0

    # That task died: the claim runs out and the request's task takes the account back.
    assert request_run_checks(request_id=request.id, now=lease + timedelta(seconds=1)) == 1
    assert _decisions(request) == ["approved"]


def test_a_claim_lost_with_its_worker_is_queued_again_and_decided_within_a_minute(
    status_double: Any,
    queued: list[tuple[str, tuple[Any, ...]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    (request,) = _waiting(status_double, 1)
    received = CompensationRequest.objects.get(pk=request.pk).received_at
    decisions_claim_for_check(request_id=request.id, now=received)
    lease = received + CHECK_LEASE
    queued.clear()

    assert CHECK_LEASE < STALLED_AFTER  # the stalled-check job finds the claim ended
    with django_capture_on_commit_callbacks(execute=True):
        assert requests_resume_stalled(now=received + STALLED_AFTER) == 1
    assert queued == [("compensation.tasks.check_request", (str(request.id),))]
    assert request_run_checks(request_id=request.id, now=lease - timedelta(seconds=1)) == 0
    assert request_run_checks(request_id=request.id, now=received + STALLED_AFTER) == 1
    request.refresh_from_db()
    assert request.status == "decided"


def test_other_requests_are_taken_whole_first_come_up_to_the_bound(status_double: Any) -> None:
    own = _waiting(status_double, 1)[0]
    small = _waiting(status_double, 1, quantity=2)[0]
    big = _waiting(status_double, 1, quantity=3)[0]  # does not fit after `small`
    later = _waiting(status_double, 1)[0]  # fits, but would overtake `big`

    assert request_run_checks(request_id=own.id, now=timezone.now(), others=4) == 3

    assert _decisions(own) == ["approved"]
    assert _decisions(small) == ["approved", "approved"]
    assert _decisions(big) == ["pending"] * 3
    assert _decisions(later) == ["pending"]
    # Only the requests taken carry a claim: the others still wait for their first check.
    assert set(
        CompensationRequest.objects.filter(check_lease_until__isnull=False).values_list(
            "id", flat=True
        )
    ) == {own.id, small.id}
    # Their own tasks check them.
    assert request_run_checks(request_id=big.id, now=timezone.now(), others=0) == 3
    assert request_run_checks(request_id=later.id, now=timezone.now(), others=0) == 1


def test_a_request_whose_rows_are_apart_is_counted_whole_before_it_is_taken_along(
    status_double: Any,
) -> None:
    """A request is taken along only if all its pending accounts fit, however its rows lie
    (ids from concurrent submissions interleave), and a later one may not overtake it."""
    own, apart, later = _waiting(status_double, 3)
    claim = apart.claims.get()
    line = claim.line
    extra = AccountFactory.create(
        product=line.product,
        state=Account.State.DELIVERED,
        line=line,
        delivered_at=line.order.placed_at,
        delivery_kind=Account.DeliveryKind.SALE,
    )
    AccountDecision.objects.create(request=apart, claim=claim, account=extra)
    now = timezone.now()
    # Waiting, oldest first: apart's first row, later's row, apart's second row.
    with transaction.atomic():
        taken = decisions_claim_for_check(request_id=own.id, now=now, others=1)
        transaction.set_rollback(True)  # the same waiting rows for the next claim
    assert taken == [own.id]  # apart's two rows do not fit in one, and later may not overtake

    taken = decisions_claim_for_check(request_id=own.id, now=now, others=2)

    assert taken == [own.id, apart.id]  # 2 fit; later's would be the third
    lease = now + CHECK_LEASE
    leases = dict(CompensationRequest.objects.values_list("id", "check_lease_until"))
    assert leases == {own.id: lease, apart.id: lease, later.id: None}


def test_a_claim_writes_one_row_per_request_not_one_per_account(status_double: Any) -> None:
    (request,) = _waiting(status_double, 1, quantity=3)
    table = AccountDecision._meta.db_table
    now = timezone.now()

    with CaptureQueriesContext(connection) as queries:
        taken = decisions_claim_for_check(request_id=request.id, now=now)

    assert taken == [request.id]
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(writes) == 1
    assert f'"{table}"' not in writes[0]
    assert _decisions(request) == ["pending"] * 3
    assert CompensationRequest.objects.get(pk=request.pk).check_lease_until == now + CHECK_LEASE


def test_a_request_still_checking_with_nothing_pending_is_not_taken_along(
    status_double: Any,
) -> None:
    """Every request a check took carries its claim; should one without a claim and without a
    pending account exist (only re-checks left), it takes no place of a request waiting."""
    own, idle, waiting = _waiting(status_double, 3)
    AccountDecision.objects.filter(request=idle).update(decision="unverified")

    taken = decisions_claim_for_check(request_id=own.id, now=timezone.now(), others=1)

    assert taken == [own.id, waiting.id]
    assert CompensationRequest.objects.get(pk=idle.pk).check_lease_until is None


def test_one_request_whose_store_fails_loses_nothing_for_the_others(
    status_double: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = _waiting(status_double, 3)
    broken = requests[1].id
    real_store = check_store._store_group

    def store(group: list[AccountDecision], *args: Any, **kwargs: Any) -> Any:
        if group[0].request_id == broken:
            raise RuntimeError("the database refused this request's write")
        return real_store(group, *args, **kwargs)

    monkeypatch.setattr(check_store, "_store_group", store)
    now = timezone.now()
    assert request_run_checks(request_id=requests[0].id, now=now) == 3

    assert _decisions(requests[0]) == _decisions(requests[2]) == ["approved"]
    # Its account was stored on its own by the fallback: a person decides, nothing is stuck.
    failed = AccountDecision.objects.get(request_id=broken)
    assert (failed.decision, failed.rule, failed.next_check_at) == (
        "manual_review",
        "status_unavailable",
        None,
    )
    assert failed.evidence["store_error"] == "RuntimeError"


def test_one_wake_up_for_the_whole_batch_after_every_request_is_stored(
    status_double: Any,
    queued: list[tuple[str, tuple[Any, ...]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    product = ProductFactory.create()
    requests = _waiting(status_double, 3, product=product)
    queued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        request_run_checks(request_id=requests[0].id, now=timezone.now())

    assert ReplacementBatch.objects.filter(state="waiting").count() == 3
    assert queued == [("compensation.tasks.fulfil_product", (product.id,))]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_check_tasks_running_at_once_decide_every_request_once(status_double: Any) -> None:
    requests = _waiting(status_double, 12, quantity=2)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(request_ids: list[Any]) -> None:
        """One worker of the cluster running the check tasks of these requests in turn."""
        try:
            barrier.wait()
            for request_id in request_ids:
                request_run_checks(request_id=request_id, now=timezone.now(), others=5)
        except BaseException as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=worker, args=([r.id for r in requests[i::4]],)) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    assert status_double.total_requests == 24  # every account called once
    for request in requests:
        request.refresh_from_db()
        assert (request.status, _decisions(request)) == ("decided", ["approved", "approved"])
        assert Event.objects.filter(kind="request_decided", request_id=request.id).count() == 1
        assert Event.objects.filter(kind="account_decided", request_id=request.id).count() == 2
    assert ReplacementBatch.objects.count() == 12


def test_a_write_refused_by_a_racing_staff_decision_is_retried_from_the_rows_as_read(
    status_double: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry after a unique-constraint refusal compares and writes from the rows as read,
    not from the first attempt's rolled-back changes."""
    (request,) = _waiting(status_double, 1, quantity=2)
    real = check_store.batches_create
    calls: list[int] = []

    def refused_once(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("account_replaced_once")
        return real(**kwargs)

    monkeypatch.setattr(check_store, "batches_create", refused_once)
    assert request_run_checks(request_id=request.id, now=timezone.now()) == 2

    assert len(calls) == 2
    rows = AccountDecision.objects.filter(request=request).order_by("id")
    assert [(d.decision, d.check_attempts, d.next_check_at) for d in rows] == [
        ("approved", 1, None),
        ("approved", 1, None),
    ]
    assert [d.evidence["check_round"] for d in rows] == [1, 1]
    request.refresh_from_db()
    assert request.status == "decided"
