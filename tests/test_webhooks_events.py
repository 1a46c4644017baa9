"""The five webhook events are written by the services, in the transaction of the change they
report (the outbox rows exist before commit; the send is queued for after it)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compensation.models_webhooks import WebhookDelivery
from compensation.selectors import request_view, request_view_json
from compensation.services.fulfilment import batches_fulfil
from compensation.services.review import review_approve, review_reject
from compensation.services.submit import request_submit
from compensation.webhooks.endpoints import webhook_endpoint_create
from compensation.webhooks.outbox import webhooks_emit

from .factories.compensation import manager, review_cases
from .factories.inventory import make_accounts
from .factories.orders import delivered_line, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def endpoint(settings: Any) -> Any:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    # Nothing listens there: these tests look at the outbox, the sending is not run.
    return webhook_endpoint_create(
        url="http://127.0.0.1:9/hooks", secret=None, events=None, actor=None, now=timezone.now()
    ).endpoint


def outbox() -> list[tuple[str, dict[str, Any]]]:
    return [
        (d.event_type, json.loads(d.body)["data"]["request"])
        for d in WebhookDelivery.objects.order_by("id")
    ]


def test_a_submission_writes_request_received_in_its_transaction(
    django_capture_on_commit_callbacks: Any,
) -> None:
    line = delivered_line(quantity=2)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request = request_submit(
            email=line.order.email,
            order_id=line.order.order_id,
            reason="locked",
            password_change_warning=False,
            skus=None,
            now=timezone.now(),
        ).request
        assert [t for t, _ in outbox()] == ["request.received"]  # before commit

    ((_, shown),) = outbox()
    view = request_view(request_id=request.id)
    assert view is not None
    assert shown == request_view_json(view)
    assert shown["status"] == "checking"
    assert [a["decision"] for a in shown["lines"][0]["accounts"]] == ["pending", "pending"]
    assert len(callbacks) == 2  # the check task and this delivery's send


def test_a_request_refused_outright_is_received_then_decided() -> None:
    order = make_order(placed_at=timezone.now() - timedelta(days=90))
    delivered_line(order=order)
    request_submit(
        email=order.email,
        order_id=order.order_id,
        reason="locked",
        password_change_warning=False,
        skus=None,
        now=timezone.now(),
    )
    events = outbox()
    assert [t for t, _ in events] == ["request.received", "request.decided"]
    decided = events[1][1]
    assert decided["status"] == "decided"
    assert decided["lines"][0]["accounts"][0]["rule"] == "outside_window"


def test_staff_decisions_write_review_decided_and_fulfilment_the_replacement_events(
    django_capture_on_commit_callbacks: Any,
) -> None:
    approve, reject = review_cases(2)
    staff = manager()
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=False):
        review_approve(decision_ids=[approve.id], actor=staff, now=now)
    with django_capture_on_commit_callbacks(execute=False):
        review_reject(decision_ids=[reject.id], actor=staff, now=now, customer_message="Used.")
    product_id = approve.account.product_id
    with django_capture_on_commit_callbacks(execute=False):
        batches_fulfil(product_id=product_id, now=now)  # no stock: the batch waits
    make_accounts(1, product=approve.account.product)
    with django_capture_on_commit_callbacks(execute=False):
        batches_fulfil(product_id=product_id, now=now)

    events = outbox()
    assert [t for t, _ in events] == [
        "review.decided",
        "review.decided",
        "replacement.waiting",
        "replacement.delivered",
    ]
    accounts = [e[1]["lines"][0]["accounts"] for e in events]
    assert [(a[0]["decision"], a[1]["decision"]) for a in accounts] == [
        ("approved", "manual_review"),
        ("approved", "rejected"),
        ("approved", "rejected"),
        ("approved", "rejected"),
    ]
    assert [a[0]["replacement"] for a in accounts] == [
        {"state": "awaiting_stock"},
        {"state": "awaiting_stock"},
        {"state": "awaiting_stock"},
        {"state": "delivered"},
    ]
    assert len({json.loads(d.body)["id"] for d in WebhookDelivery.objects.all()}) == 4


def test_no_endpoint_no_outbox_row_and_nothing_queued(
    endpoint: Any, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint.delete()
    line = delivered_line()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request_submit(
            email=line.order.email,
            order_id=line.order.order_id,
            reason="locked",
            password_change_warning=False,
            skus=None,
            now=timezone.now(),
        )
    assert WebhookDelivery.objects.count() == 0
    assert len(callbacks) == 1  # the check task only


def test_one_event_for_many_requests_costs_the_queries_of_one(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # A drain serving many batches emits for all of them inside its transaction: the views are
    # read in one set of queries, whatever the number of requests.
    request_ids = [review_cases(2)[0].request_id for _ in range(4)]
    now = timezone.now()

    def emit(ids: list[Any]) -> int:
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=False),
        ):
            written = webhooks_emit(event_type="request.decided", request_ids=ids, now=now)
        assert written == len(ids)
        return len(queries)

    assert emit(request_ids[:1]) == emit(request_ids)
    bodies = {d.request_id: json.loads(d.body) for d in WebhookDelivery.objects.all()}
    assert set(bodies) == set(request_ids)
    for request_id in request_ids:
        view = request_view(request_id=request_id)
        assert view is not None
        assert bodies[request_id]["data"]["request"] == request_view_json(view)
        assert len(view.lines[0].accounts) == 2
