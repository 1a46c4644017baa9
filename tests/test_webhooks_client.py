"""The outbound client against real receivers on 127.0.0.1: refused addresses, redirects not
followed, the overall deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from compensation.models_webhooks import WebhookAttempt, WebhookDelivery

from .test_webhooks_delivery import a_request, add_endpoint, emit
from .webhook_receiver import Receiver, Redirect, Trickle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webhooks(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.WEBHOOK_READ_TIMEOUT = 0.5
    settings.WEBHOOK_DEADLINE = 2.0


@pytest.fixture
def run(django_capture_on_commit_callbacks: Any) -> Callable[[Callable[[], Any]], Any]:
    def runner(work: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return runner


def test_private_addresses_are_refused_unless_allowed(run: Any, settings: Any) -> None:
    with Receiver([200]) as receiver:
        add_endpoint(receiver.url)  # allowed while the setting is on
        settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
        run(lambda: emit("request.decided", a_request()))

    assert receiver.received == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("refused_address: 127.0.0.1 resolves to 127.0.0.1, a loopback")
    assert WebhookDelivery.objects.get().state == "pending"


def test_redirects_are_not_followed(run: Any) -> None:
    with Receiver([200]) as target, Receiver([Redirect(target.url)]) as redirecting:
        add_endpoint(redirecting.url)
        run(lambda: emit("request.decided", a_request()))

    assert target.received == []
    assert len(redirecting.received) == 1
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (302, "redirect not followed")
    assert WebhookDelivery.objects.get().state == "pending"


def test_a_trickling_receiver_is_cut_off_at_the_deadline(run: Any, settings: Any) -> None:
    settings.WEBHOOK_DEADLINE = 1.0
    with Receiver([Trickle(0.05)]) as receiver:
        add_endpoint(receiver.url)
        run(lambda: emit("request.decided", a_request()))

    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (200, "deadline")
    assert 1000 <= attempt.duration_ms < 2000
    assert WebhookDelivery.objects.get().state == "pending"  # not a success: retried later
    assert len(receiver.received) == 1
