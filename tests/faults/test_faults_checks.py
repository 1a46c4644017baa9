"""Status checks under odd answers, a poisoned write, a racing staff override and a killed worker:
real HTTP submissions to a web process, checks in a real qcluster, a real status-service double.
Every account ends decided, with a person, or unverified with its next check no later than the
configured maximum; after the last re-check a person decides. No check task fails."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any
from urllib import error, request

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_q.models import Task

from compensation.models import AccountDecision, CompensationRequest
from compensation.schedules import SCHEDULES
from compensation.services.check_claims import CHECK_LEASE
from compensation.services.checks import (
    STALLED_AFTER,
    decisions_recheck_due,
    requests_resume_stalled,
)
from compensation.services.review import decision_override
from compensation.services.submit import request_submit
from compensation.status import reset_status_client
from compensation.status.double import StatusDouble, hang, profile, status
from inventory.models import Account, Product
from orders.models import Order, OrderLine
from tests.faults.conftest import Figures
from tests.faults.odd_answers import ODD_ANSWERS
from tests.faults.processes import database_dsn, process_env, qcluster, wait_until, web_server

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COUNTERS = ("posts", "reposts", "comments", "likes", "follows", "messages")


def make_order(index: int, username: str, product: Product) -> Order:
    order = Order.objects.create(
        order_id=f"CHK-{index:03d}",
        email=f"chk{index}@example.com",
        placed_at=timezone.now() - timedelta(days=2),
    )
    line = OrderLine.objects.create(order=order, product=product, quantity=1)
    Account.objects.create(
        product=product,
        platform=product.platform,
        username=username,
        credentials_sealed="x",
        state="delivered",
        line=line,
        delivered_at=order.placed_at,
        delivery_kind="sale",
        baseline_followers=250,
        **{f"baseline_{kind}": 0 for kind in COUNTERS},
    )
    return order


def submit(url: str, order: Order) -> int:
    body = json.dumps({"email": order.email, "order_id": order.order_id, "reason": "locked"})
    req = request.Request(
        f"{url}/api/v1/compensation-requests",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with request.urlopen(req, timeout=30) as response:
            return int(response.status)
    except error.HTTPError as exc:
        return exc.code


def _program(double: StatusDouble, username: str, answer: tuple[int, Any, dict[str, str]]) -> None:
    code, body, headers = answer
    if isinstance(body, dict) and "username" in body and body["username"] is None:
        body = {**body, "username": username}
    double.set("instagram", username, status(code, body, headers))


def _settled(decision: AccountDecision, max_delay: int) -> bool:
    if decision.decision in ("approved", "rejected", "manual_review"):
        return True
    if decision.decision == "unverified":
        checked = decision.decided_at
        return (
            decision.next_check_at is not None
            and checked is not None
            and decision.next_check_at <= checked + timedelta(seconds=max_delay)
        )
    return False


@pytest.mark.timeout(420)
def test_every_odd_status_answer_ends_in_a_decision_or_a_bounded_recheck(
    fault_figures: Figures, queue_to_broker: None, settings: Any
) -> None:
    product = Product.objects.create(sku="IG-ODD", name="Instagram", platform="instagram")
    names = sorted(ODD_ANSWERS)
    orders = {name: make_order(i, f"odd_{i:02d}", product) for i, name in enumerate(names)}
    max_delay = max(settings.STATUS_RECHECK_DELAYS)
    with StatusDouble() as double:
        for i, name in enumerate(names):
            _program(double, f"odd_{i:02d}", ODD_ANSWERS[name])
        settings.STATUS_API_URL = double.url
        settings.STATUS_API_BACKOFF_BASE = 0.01
        reset_status_client()
        env = process_env(
            application_name="faults-checks",
            STATUS_API_URL=double.url,
            STATUS_API_BACKOFF_BASE="0.01",
            STATUS_API_BREAKER_THRESHOLD="1000",
        )
        with web_server(env) as web, qcluster(env):
            codes = [submit(web.url, orders[name]) for name in names]
            assert set(codes) == {202}, codes

            def all_checked() -> bool:
                return not AccountDecision.objects.filter(decision="pending").exists()

            assert wait_until(all_checked, timeout=240, interval=0.5)
        decisions = {
            d.account.username: d for d in AccountDecision.objects.select_related("account")
        }
        unsettled = {
            name: (decisions[f"odd_{i:02d}"].decision, decisions[f"odd_{i:02d}"].next_check_at)
            for i, name in enumerate(names)
            if not _settled(decisions[f"odd_{i:02d}"], max_delay)
        }
        failed_tasks = list(Task.objects.filter(success=False).values_list("name", "result"))

        # After the last re-check a person decides: run the re-check job once per configured
        # delay, each time past the longest one (no next check may be later than that).
        later = timezone.now()
        for _delay in settings.STATUS_RECHECK_DELAYS:
            later += timedelta(seconds=max_delay + 1)
            decisions_recheck_due(now=later)
        reset_status_client()
    left = list(
        AccountDecision.objects.filter(decision__in=["pending", "unverified"]).values_list(
            "account__username", "decision"
        )
    )
    stuck = CompensationRequest.objects.filter(status="checking").count()
    fault_figures.faults += len(names)
    fault_figures.requests += len(names)
    fault_figures.requests_stuck += stuck
    first = Counter(f"{d.decision}/{d.rule}" for d in decisions.values())
    final = Counter(AccountDecision.objects.values_list("decision", flat=True))
    fault_figures.notes.append(f"first check: {dict(first)}; after the re-checks: {dict(final)}")
    assert failed_tasks == []
    assert unsettled == {}
    assert left == []
    assert stuck == 0


@pytest.mark.timeout(240)
def test_one_poisoned_write_does_not_block_the_other_rechecks(
    fault_figures: Figures, settings: Any
) -> None:
    """Eight overdue unverified accounts; the database refuses the write of one of them (a
    trigger). The seven others are decided; the poisoned one goes to a person, or waits."""
    product = Product.objects.create(sku="IG-POI", name="Instagram", platform="instagram")
    orders = [make_order(100 + i, f"poison_{i}", product) for i in range(8)]
    past = timezone.now() - timedelta(minutes=5)
    for order in orders:
        req = CompensationRequest.objects.create(
            order=order,
            email=order.email,
            reason="x",
            password_change_warning=False,
            received_at=past,
        )
        claim = req.claims.create(line=order.lines.get())
        AccountDecision.objects.create(
            request=req,
            claim=claim,
            account=Account.objects.get(line__order=order),
            decision="unverified",
            rule="status_unavailable",
            check_attempts=1,
            decided_at=past,
            next_check_at=past,
        )
    poisoned = AccountDecision.objects.get(account__username="poison_3")
    with psycopg.connect(database_dsn(), autocommit=True) as admin:
        admin.execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
            "IF NEW.id = " + str(poisoned.pk) + " AND NEW.decision <> 'unverified' THEN "
            "RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        admin.execute(
            "CREATE TRIGGER refuse_poison BEFORE UPDATE ON compensation_accountdecision "
            "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
        )
    try:
        with StatusDouble() as double:
            double.resolver = lambda platform, username, user_id: {
                "state": "locked",
                "username": username,
                "followers": 250,
                "interactions": dict.fromkeys(COUNTERS, 0),
            }
            settings.STATUS_API_URL = double.url
            reset_status_client()
            decisions_recheck_due(now=timezone.now())
            reset_status_client()
    finally:
        with psycopg.connect(database_dsn(), autocommit=True) as admin:
            admin.execute("DROP TRIGGER refuse_poison ON compensation_accountdecision")
            admin.execute("DROP FUNCTION refuse_poison()")
    others = AccountDecision.objects.exclude(pk=poisoned.pk)
    assert set(others.values_list("decision", flat=True)) == {"approved"}
    poisoned.refresh_from_db()
    # Its write was refused (and so was "a person decides"): it waits, bounded; others did not.
    assert poisoned.decision == "unverified"
    assert poisoned.next_check_at is not None
    assert poisoned.next_check_at <= timezone.now() + timedelta(
        seconds=max(settings.STATUS_RECHECK_DELAYS)
    )
    fault_figures.faults += 1
    fault_figures.requests += 8
    fault_figures.requests_stuck += 0
    fault_figures.notes.append("7 of 8 decided despite one refused write; the 8th retried later")


def _locked(platform: str, username: str) -> dict[str, Any]:
    return profile(platform=platform, username=username, state="locked")


def _submit_now(order: Order, reason: str = "locked") -> CompensationRequest:
    return request_submit(
        email=order.email,
        order_id=order.order_id,
        reason=reason,
        password_change_warning=False,
        skus=None,
        now=timezone.now(),
    ).request


def _decided(request_id: Any) -> bool:
    return CompensationRequest.objects.get(pk=request_id).status == "decided"


@pytest.mark.timeout(240)
def test_an_override_racing_a_new_request_ends_in_a_decision(
    fault_figures: Figures, queue_to_broker: None, settings: Any
) -> None:
    """A manager overrides the refused account of an earlier request while the customer's new
    request for the same account is being checked by a real worker. The check ends: the account
    was replaced meanwhile, so its case in the new request says `already_compensated`."""
    product = Product.objects.create(sku="IG-RACE", name="Instagram", platform="instagram")
    order = make_order(300, "race_one", product)
    manager = get_user_model().objects.create_superuser("manager", "m@example.com", "pw-12345")
    with StatusDouble() as double:
        settings.STATUS_API_URL = double.url
        reset_status_client()
        double.set("instagram", "race_one", profile(username="race_one", state="active"))
        env = process_env(application_name="faults-race", STATUS_API_URL=double.url)
        with qcluster(env):
            first = _submit_now(order)
            assert wait_until(lambda: _decided(first.pk), 90)
            refused = AccountDecision.objects.get(request=first)
            assert (refused.decision, refused.rule) == ("rejected", "appears_active")
            # The customer asks again; the worker's status call hangs for a moment.
            double.set("instagram", "race_one", hang(4, then=_locked("instagram", "race_one")))
            second = _submit_now(order, reason="locked now")
            assert wait_until(lambda: double.count("instagram", "race_one") >= 2, 60)
            decision_override(
                decision_id=refused.pk, actor=manager, now=timezone.now(), reason="goodwill"
            )
            assert wait_until(lambda: _decided(second.pk), 90)
        reset_status_client()
    raced = AccountDecision.objects.get(request=second)
    assert (raced.decision, raced.rule) == ("rejected", "already_compensated")
    assert raced.evidence["earlier_request_received_at"] == first.received_at.isoformat()
    assert AccountDecision.objects.get(pk=refused.pk).decision == "approved"
    assert list(Task.objects.filter(success=False).values_list("name", flat=True)) == []
    fault_figures.faults += 1
    fault_figures.requests += 2
    fault_figures.requests_stuck += CompensationRequest.objects.filter(status="checking").count()
    fault_figures.notes.append("override during the check: the new case says already_compensated")


@pytest.mark.timeout(240)
def test_a_check_lost_with_its_killed_worker_is_picked_up_within_a_minute(
    fault_figures: Figures, queue_to_broker: None, settings: Any
) -> None:
    assert timedelta(seconds=30) >= STALLED_AFTER
    schedule = next(s for s in SCHEDULES if s["name"] == "resume-stalled-checks")
    assert schedule["minutes"] == 1
    product = Product.objects.create(sku="IG-KILL", name="Instagram", platform="instagram")
    order = make_order(400, "killed_one", product)
    with StatusDouble() as double:
        settings.STATUS_API_URL = double.url
        reset_status_client()
        double.set("instagram", "killed_one", hang(60, then=_locked("instagram", "killed_one")))
        env = process_env(application_name="faults-kill", STATUS_API_URL=double.url)
        with qcluster(env) as cluster:
            req = _submit_now(order)
            assert wait_until(lambda: double.count("instagram", "killed_one") >= 1, 60)
            cluster.kill()  # SIGKILL in the middle of the check
        assert AccountDecision.objects.get(request=req).decision == "pending"
        double.set("instagram", "killed_one", _locked("instagram", "killed_one"))
        # By the time the request is STALLED_AFTER old, the killed task's claim on the request
        # has run out (CHECK_LEASE < STALLED_AFTER): the clock is moved on, as for the job below.
        assert CHECK_LEASE < STALLED_AFTER
        CompensationRequest.objects.filter(pk=req.pk).update(check_lease_until=timezone.now())
        with qcluster(env):
            # What the one-minute schedule does once the request is STALLED_AFTER old.
            assert requests_resume_stalled(now=req.received_at + STALLED_AFTER) == 1
            assert wait_until(lambda: _decided(req.pk), 90)
        reset_status_client()
    assert AccountDecision.objects.get(request=req).decision == "approved"
    fault_figures.faults += 1
    fault_figures.requests += 1
    fault_figures.requests_stuck += CompensationRequest.objects.filter(status="checking").count()
