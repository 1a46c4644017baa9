"""Submissions over real HTTP to a separate web process while its PostgreSQL backends are being
terminated: every answer is 202/200 or 503 with Retry-After (never a 500), nothing partial is
written, and every request taken reaches a decision once the task cluster has run."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import timedelta
from urllib import error, request

import pytest
from django.utils import timezone

from compensation.models import AccountDecision, CompensationRequest
from compensation.services.checks import STALLED_AFTER, requests_resume_stalled
from compensation.status.double import StatusDouble, profile
from inventory.models import Account, Event, Product
from orders.models import Order, OrderLine
from tests.faults.conftest import Figures
from tests.faults.processes import (
    process_env,
    qcluster,
    terminating_backends,
    wait_until,
    web_server,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SUBMISSIONS = 60


def _orders(count: int) -> list[Order]:
    product = Product.objects.create(sku="IG-F", name="Instagram", platform="instagram")
    orders = []
    for i in range(count):
        order = Order.objects.create(
            order_id=f"DB-{i:03d}",
            email=f"db{i}@example.com",
            placed_at=timezone.now() - timedelta(days=2),
        )
        line = OrderLine.objects.create(order=order, product=product, quantity=1)
        Account.objects.create(
            product=product,
            platform="instagram",
            username=f"db_{i:03d}",
            credentials_sealed="x",
            state="delivered",
            line=line,
            delivered_at=order.placed_at,
            delivery_kind="sale",
            baseline_followers=250,
            **{f"baseline_{k}": 0 for k in ("posts", "reposts", "comments", "likes", "follows")},
            baseline_messages=0,
        )
        orders.append(order)
    return orders


def _submit(url: str, order: Order) -> tuple[int, dict[str, str]]:
    body = json.dumps(
        {"email": order.email, "order_id": order.order_id, "reason": "locked"}
    ).encode()
    req = request.Request(
        f"{url}/api/v1/compensation-requests",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers)
    except error.HTTPError as exc:
        return exc.code, dict(exc.headers)


@pytest.mark.timeout(300)
def test_backends_terminated_during_submissions_never_answer_500_or_leave_a_request_stuck(
    fault_figures: Figures, queue_to_broker: None
) -> None:
    orders = _orders(SUBMISSIONS)
    with StatusDouble() as status:
        status.resolver = lambda platform, username, user_id: profile(
            platform=platform, username=username, state="locked"
        )
        env = process_env(application_name="faults-web", STATUS_API_URL=status.url)
        codes: Counter[int] = Counter()
        retry_after_missing = 0
        with web_server(env) as web:
            with terminating_backends("faults-web", interval=0.2) as terminator:
                # On a fast machine one pass can end before ten backends were hit: ask again
                # (repeats answer 200 with the request in progress) until they were, bounded.
                deadline = time.monotonic() + 60
                while True:
                    for order in orders:
                        code, headers = _submit(web.url, order)
                        codes[code] += 1
                        if code == 503 and "Retry-After" not in headers:
                            retry_after_missing += 1
                    if terminator.terminated >= 10 or time.monotonic() > deadline:
                        break
            terminated = terminator.terminated
        assert set(codes) <= {200, 202, 503}, codes
        assert retry_after_missing == 0
        assert terminated >= 10, "the fault was not exercised"

        # Nothing partial: every request written has all its decisions and its event.
        for req in CompensationRequest.objects.all():
            assert AccountDecision.objects.filter(request=req).count() == 1
            assert Event.objects.filter(kind="request_received", request_id=req.pk).count() == 1
        taken = CompensationRequest.objects.count()
        assert taken >= codes[202]

        # The cluster checks them; checks whose task was lost with a connection are resumed.
        worker_env = process_env(application_name="faults-worker", STATUS_API_URL=status.url)
        with qcluster(worker_env):
            resumed = requests_resume_stalled(now=timezone.now() + STALLED_AFTER)

            def all_decided() -> bool:
                return not CompensationRequest.objects.filter(status="checking").exists()

            wait_until(all_decided, timeout=120, interval=0.5)
        stuck = CompensationRequest.objects.filter(status="checking").count()

    fault_figures.faults += terminated
    fault_figures.requests += taken
    fault_figures.requests_stuck += stuck
    fault_figures.notes.append(
        f"{sum(codes.values())} submissions: {dict(sorted(codes.items()))}; "
        f"{terminated} backends terminated; {resumed} checks re-queued by the stalled-check job"
    )
    assert stuck == 0
