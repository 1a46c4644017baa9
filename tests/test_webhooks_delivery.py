"""Webhooks out (docs/storefront.md) against real receivers on 127.0.0.1: signature (checked with
the snippet of docs/storefront.md, executed as written), back-off, order per request, pausing.

Time passes by moving the stored times back (`elapse`); the tasks then run with the real clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.db.models import F
from django.test import Client
from django.utils import timezone

from compensation.models import CompensationRequest, Decision
from compensation.models_webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from compensation.selectors import request_view, request_view_json
from compensation.webhooks import tasks
from compensation.webhooks.delivery import RETRY_DELAYS, webhook_delivery_send
from compensation.webhooks.endpoints import webhook_endpoint_create
from compensation.webhooks.outbox import webhooks_emit
from inventory.models import Event

from .doc_snippets import python_snippet
from .factories.compensation import manager, request_with_decisions
from .factories.orders import delivered_line
from .webhook_receiver import Hang, Receiver

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture(autouse=True)
def _webhooks(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the receivers listen on 127.0.0.1
    settings.WEBHOOK_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOK_READ_TIMEOUT = 0.5
    settings.WEBHOOK_DEADLINE = 2.0
    settings.WEBHOOK_PAUSE_AFTER = 24 * 3600


@pytest.fixture
def verify() -> Callable[..., bool]:
    return python_snippet("verify_webhook")["verify_webhook"]


@pytest.fixture
def run(django_capture_on_commit_callbacks: Any) -> Iterator[Callable[[Callable[[], Any]], Any]]:
    """Run `work` and then its on-commit callbacks (the queued tasks: django-q runs them inline
    in tests), including the ones those callbacks queue."""

    def runner(work: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    yield runner


def add_endpoint(url: str, events: list[str] | None = None) -> tuple[WebhookEndpoint, str]:
    saved = webhook_endpoint_create(
        url=url, secret=None, events=events, actor=None, now=timezone.now()
    )
    assert saved.secret is not None
    return saved.endpoint, saved.secret


def a_request() -> CompensationRequest:
    line = delivered_line(quantity=1)
    return request_with_decisions(line=line, decisions=[(Decision.PENDING, "")], status="checking")


def emit(event_type: str, *requests: CompensationRequest) -> None:
    with transaction.atomic():
        webhooks_emit(
            event_type=event_type, request_ids=[r.id for r in requests], now=timezone.now()
        )


def sweep() -> int:
    return tasks.webhooks_sweep()


def elapse(seconds: float) -> None:
    """Let time pass for everything the webhooks stored."""
    d = timedelta(seconds=seconds)
    WebhookDelivery.objects.update(
        next_attempt_at=F("next_attempt_at") - d,
        sending_until=F("sending_until") - d,
        created_at=F("created_at") - d,
    )
    WebhookEndpoint.objects.update(
        failing_since=F("failing_since") - d,
        paused_at=F("paused_at") - d,
        last_success_at=F("last_success_at") - d,
    )


def request_id_of(body: bytes) -> str:
    return str(json.loads(body)["data"]["request"]["id"])


def test_a_receiver_answering_500_then_timing_out_gets_the_event_once_it_answers_200(
    run: Any, verify: Any
) -> None:
    with Receiver([500, Hang(2), 200]) as receiver:
        endpoint, secret = add_endpoint(receiver.url)
        request = a_request()

        run(lambda: emit("request.decided", request))
        delivery = WebhookDelivery.objects.get()
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert run(sweep) == 0  # not due before the first back-off has passed
        elapse(RETRY_DELAYS[0])
        assert run(sweep) == 1  # times out
        elapse(RETRY_DELAYS[1])
        assert run(sweep) == 1  # 200
        elapse(24 * 3600)
        assert run(sweep) == 0  # delivered: never sent again

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    attempts = list(delivery.attempt_log.values_list("status_code", "error", "response_excerpt"))
    assert attempts == [(500, "", "answer 500"), (None, "timeout", ""), (200, "", "answer 200")]
    assert [r.answer for r in receiver.received] == [500, Hang(2), 200]
    # Every attempt carries the same event, signed: the documented snippet accepts it, and
    # refuses it with another secret or another body.
    assert {r.headers["X-Webhook-Id"] for r in receiver.received} == {str(delivery.event_id)}
    assert {r.body for r in receiver.received} == {delivery.body.encode()}
    assert all(verify(secret, r.headers, r.body) for r in receiver.received)
    last = receiver.received[-1]
    assert not verify("whsec_another-secret-entirely", last.headers, last.body)
    assert not verify(secret, last.headers, last.body.replace(b"decided", b"DECIDED"))
    assert last.headers["Content-Type"] == "application/json"
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    assert endpoint.last_success_at is not None
    assert endpoint.paused_at is None


def test_the_body_is_the_event_with_the_request_as_the_json_api_shows_it(run: Any) -> None:
    with Receiver([200]) as receiver:
        add_endpoint(receiver.url)
        request = a_request()
        run(lambda: emit("request.received", request))

    (received,) = receiver.received
    body = received.json
    view = request_view(request_id=request.id)
    assert view is not None
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == "request.received"
    assert body["id"] == received.headers["X-Webhook-Id"]
    assert body["data"] == {"request": request_view_json(view)}
    assert body["created_at"].endswith("Z")
    assert int(received.headers["X-Webhook-Timestamp"]) > 0


def test_events_of_a_request_arrive_in_order_and_other_requests_are_not_held_up(
    run: Any,
) -> None:
    first, other = a_request(), a_request()
    refusing = {str(first.id)}

    def answer(body: bytes) -> int:
        return 500 if request_id_of(body) in refusing else 200

    with Receiver(answer) as receiver:
        add_endpoint(receiver.url)
        run(lambda: emit("request.received", first))  # 500: the endpoint is failing
        run(lambda: emit("request.received", other))  # not sent now: the sweep probes
        run(lambda: emit("request.decided", first))  # waits behind the first one
        elapse(RETRY_DELAYS[0])
        run(sweep)  # the probe: the oldest due delivery, the first request's (500 again)
        elapse(RETRY_DELAYS[0])
        run(sweep)  # the other request's event is due and goes through: not held up
        refusing.clear()
        elapse(RETRY_DELAYS[1])
        run(sweep)  # the first request's events, in order

    log = [
        ("first" if request_id_of(r.body) == str(first.id) else "other", r.type, r.answer)
        for r in receiver.received
    ]
    assert log == [
        ("first", "request.received", 500),
        ("first", "request.received", 500),
        ("other", "request.received", 200),
        ("first", "request.received", 200),
        ("first", "request.decided", 200),
    ]
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"delivered"}


def test_a_receiver_down_too_long_pauses_its_endpoint_without_blocking_others(
    run: Any, verify: Any
) -> None:
    request = a_request()
    with Receiver([503]) as down, Receiver([200]) as up:
        paused_endpoint, _ = add_endpoint(down.url)
        healthy, healthy_secret = add_endpoint(up.url)

        run(lambda: emit("request.received", request))
        for delay in RETRY_DELAYS[:6]:  # 1 min … 2 h later: still failing
            elapse(delay)
            run(sweep)
        elapse(24 * 3600 - sum(RETRY_DELAYS[:6]) - 300)
        run(sweep)  # 23 h 55 min without a success: one more try, still not paused
        paused_endpoint.refresh_from_db()
        assert paused_endpoint.paused_at is None
        elapse(600)
        run(sweep)  # 24 h 5 min: paused by the sweep
        paused_endpoint.refresh_from_db()
        assert paused_endpoint.paused_at is not None
        attempts_while_down = len(down.received)

        # Paused: new events are kept for it, the other endpoint gets them at once.
        run(lambda: emit("request.decided", request))
        elapse(3 * 24 * 3600)
        run(sweep)
        assert len(down.received) == attempts_while_down
        assert up.types() == ["request.received", "request.decided"]
        assert all(verify(healthy_secret, r.headers, r.body) for r in up.received)
        held = WebhookDelivery.objects.filter(endpoint=paused_endpoint).order_by("id")
        assert [(d.event_type, d.state) for d in held] == [
            ("request.received", "pending"),
            ("request.decided", "pending"),
        ]
        assert Event.objects.filter(kind="webhook_endpoint_paused").count() == 1

        # Staff see it; a manager resumes it once the receiver works: everything, in order.
        staff = Client()
        staff.force_login(manager())
        listing = staff.get("/admin/compensation/webhookendpoint/")
        assert "paused since" in listing.content.decode()
        down.answer([200])
        response = run(
            lambda: staff.post(f"/admin/compensation/webhookendpoint/{paused_endpoint.pk}/resume/")
        )
        assert response.status_code == 302

    assert [(r.type, r.answer) for r in down.received[attempts_while_down:]] == [
        ("request.received", 200),
        ("request.decided", 200),
    ]
    assert attempts_while_down == 8  # the first try, six back-offs, one at 23 h 55 min
    paused_endpoint.refresh_from_db()
    assert (paused_endpoint.paused_at, paused_endpoint.failing_since) == (None, None)
    assert Event.objects.filter(kind="webhook_endpoint_resumed").count() == 1
    healthy.refresh_from_db()
    assert healthy.failing_since is None


def test_a_delivery_is_given_up_after_the_whole_back_off_and_frees_the_next(
    run: Any, settings: Any
) -> None:
    settings.WEBHOOK_PAUSE_AFTER = 7 * 24 * 3600
    request = a_request()
    with Receiver(lambda body: 500 if b"request.received" in body else 200) as receiver:
        add_endpoint(receiver.url)
        run(lambda: emit("request.received", request))
        run(lambda: emit("request.decided", request))
        for delay in RETRY_DELAYS:
            assert WebhookDelivery.objects.filter(state="delivered").count() == 0
            elapse(delay)
            run(sweep)

    assert sum(RETRY_DELAYS) >= 24 * 3600
    assert [(r.type, r.answer) for r in receiver.received] == [
        *[("request.received", 500)] * (len(RETRY_DELAYS) + 1),
        ("request.decided", 200),
    ]
    states = list(WebhookDelivery.objects.order_by("id").values_list("event_type", "state"))
    assert states == [("request.received", "failed"), ("request.decided", "delivered")]
    assert Event.objects.filter(kind="webhook_delivery_failed").count() == 1


def test_send_again_from_the_admin_sends_the_same_event_again(run: Any) -> None:
    with Receiver([200]) as receiver:
        add_endpoint(receiver.url)
        run(lambda: emit("request.decided", a_request()))
        delivery = WebhookDelivery.objects.get()
        staff = Client()
        staff.force_login(manager())
        detail = staff.get(f"/admin/compensation/webhookdelivery/{delivery.pk}/change/")
        assert detail.status_code == 200
        assert "answer 200" in detail.content.decode()  # the attempt with its excerpt

        response = run(
            lambda: staff.post(
                "/admin/compensation/webhookdelivery/",
                {"action": "send_again", "_selected_action": [delivery.pk]},
            )
        )
        assert response.status_code == 302

    assert len(receiver.received) == 2
    assert receiver.received[0].body == receiver.received[1].body
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 2


def test_only_subscribed_and_active_endpoints_get_an_event(run: Any) -> None:
    with Receiver([200]) as everything, Receiver([200]) as decided, Receiver([200]) as off:
        add_endpoint(everything.url)
        add_endpoint(decided.url, events=["request.decided"])
        switched_off, _ = add_endpoint(off.url)
        WebhookEndpoint.objects.filter(pk=switched_off.pk).update(active=False)
        request = a_request()
        run(lambda: emit("request.received", request))
        run(lambda: emit("request.decided", request))

    assert everything.types() == ["request.received", "request.decided"]
    assert decided.types() == ["request.decided"]
    assert off.received == []
    assert WebhookDelivery.objects.count() == 3


def test_a_change_rolled_back_sends_nothing(run: Any) -> None:
    with Receiver([200]) as receiver:
        add_endpoint(receiver.url)
        request = a_request()

        def failing_change() -> None:
            with transaction.atomic():
                webhooks_emit(
                    event_type="request.decided", request_ids=[request.id], now=timezone.now()
                )
                raise RuntimeError("the change failed")

        with pytest.raises(RuntimeError):
            run(failing_change)

    assert receiver.received == []
    assert WebhookDelivery.objects.count() == 0


def test_a_delivery_being_sent_is_not_sent_twice(run: Any) -> None:
    with Receiver([200]) as receiver:
        endpoint, _ = add_endpoint(receiver.url)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
        run(lambda: emit("request.decided", a_request()))  # nothing: switched off
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=True)
        run(lambda: emit("request.decided", a_request()))
        delivery = WebhookDelivery.objects.get()
        delivery.refresh_from_db()
        assert delivery.state == "delivered"
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state="pending",
            next_attempt_at=timezone.now(),
            sending_until=timezone.now() + timedelta(minutes=1),
        )
        outcome = webhook_delivery_send(delivery_id=delivery.pk, now=timezone.now())

    assert outcome == "in_flight"
    assert len(receiver.received) == 1
