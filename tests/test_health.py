"""/healthz and /metrics in-process: every check's pass and fail, exact bodies, the token, and
the counters behind the metrics (HTTP answers, status-service calls over real HTTP, e-mails).
The same endpoints under gunicorn with production settings: tests/test_production_smoke.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.mail import EmailMessage, get_connection
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from compensation.health import counters
from compensation.health.heartbeat import beat_on_worker_start, heartbeat_last
from compensation.health.models import ClusterHeartbeat
from compensation.health.tasks import cluster_heartbeat
from compensation.models import StatusServiceBreaker
from compensation.status import ProfileQuery, StatusClient
from compensation.status.double import profile, status

from .factories.compensation import review_cases, waiting_batch
from .factories.inventory import make_product

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture(autouse=True)
def fresh_counters() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def beating() -> ClusterHeartbeat:
    return ClusterHeartbeat.objects.create(
        name="cluster", seen_at=timezone.now() - timedelta(seconds=20), host="node-1"
    )


def _get(client: Client, path: str, **headers: str) -> Any:
    return client.get(path, headers=headers)


def test_healthz_is_ok_with_every_check_named_and_nothing_else(
    client: Client, beating: ClusterHeartbeat
) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert not response.cookies
    body = response.json()
    assert body["checks"]["cluster"]["last_seen_seconds"] in (20, 21)
    body["checks"]["cluster"]["last_seen_seconds"] = 20
    assert body == {
        "status": "ok",
        "checks": {
            "database": {"ok": True},
            "broker": {"ok": True, "kind": "database"},
            "cluster": {"ok": True, "last_seen_seconds": 20, "max_age_seconds": 180},
            "status_service": {"ok": True, "breaker": "closed"},
            "review_queue": {"ok": True, "oldest_waiting_seconds": None},
        },
    }
    assert "node-1" not in response.content.decode()  # no host names


def test_healthz_fails_naming_the_cluster_when_its_heartbeat_is_too_old(
    client: Client, settings: Any, beating: ClusterHeartbeat
) -> None:
    settings.HEALTH_CLUSTER_MAX_AGE = 10

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["failing"] == ["cluster"]
    assert body["checks"]["cluster"]["ok"] is False
    assert body["checks"]["database"] == {"ok": True}


def test_healthz_fails_when_no_cluster_was_ever_seen(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["cluster"]
    assert response.json()["checks"]["cluster"] == {
        "ok": False,
        "last_seen_seconds": None,
        "max_age_seconds": 180,
    }


def test_healthz_fails_naming_the_broker_when_redis_does_not_answer(
    client: Client, settings: Any, beating: ClusterHeartbeat
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert response.json()["checks"]["broker"] == {"ok": False, "kind": "redis"}


def test_web_scope_leaves_the_cluster_out_for_load_balancers(client: Client) -> None:
    response = client.get("/healthz?scope=web")  # no heartbeat at all

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True}, "broker": {"ok": True, "kind": "database"}},
    }


def test_an_open_breaker_and_a_waiting_case_are_reported_without_failing(
    client: Client, beating: ClusterHeartbeat
) -> None:
    StatusServiceBreaker.objects.create(
        name="status", consecutive_failures=25, open_until=timezone.now() + timedelta(seconds=30)
    )
    review_cases(2, requested_at=timezone.now() - timedelta(hours=2))

    response = client.get("/healthz")

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["status_service"] == {"ok": False, "breaker": "open"}
    assert checks["review_queue"]["oldest_waiting_seconds"] in (7200, 7201)
    assert set(checks["review_queue"]) == {"ok", "oldest_waiting_seconds"}  # an age, no count


def test_breaker_after_its_cooldown_is_half_open(client: Client, beating: ClusterHeartbeat) -> None:
    StatusServiceBreaker.objects.create(
        name="status", consecutive_failures=25, open_until=timezone.now() - timedelta(seconds=1)
    )

    assert client.get("/healthz").json()["checks"]["status_service"] == {
        "ok": False,
        "breaker": "half_open",
    }


def test_healthz_refuses_writes(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


# --- heartbeat ---------------------------------------------------------------------------------


def test_heartbeat_task_and_worker_start_upsert_one_row() -> None:
    assert heartbeat_last() is None
    before = timezone.now()

    cluster_heartbeat()
    first = heartbeat_last()
    beat_on_worker_start(sender="django_q", proc_name="Process-1")
    cluster_heartbeat()

    assert ClusterHeartbeat.objects.count() == 1
    assert first is not None and first >= before
    last = heartbeat_last()
    assert last is not None and last >= first


# --- /metrics ----------------------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_is_off_without_a_token_and_refuses_a_wrong_one(
    client: Client, settings: Any
) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404

    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert TOKEN not in wrong.content.decode()


def test_metrics_show_queues_health_and_counted_answers(
    client: Client, settings: Any, beating: ClusterHeartbeat
) -> None:
    settings.METRICS_TOKEN = TOKEN
    review_cases(3, requested_at=timezone.now() - timedelta(minutes=10))
    product = make_product(sku="IG-WAIT")
    waiting_batch(product=product, quantity=2, approved_at=timezone.now() - timedelta(minutes=30))
    waiting_batch(product=product, quantity=5)
    client.get("/healthz")
    client.get("/no-such-page/")
    client.post("/api/v1/compensation-requests", data="{", content_type="application/json")

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = _samples(response.content.decode())
    assert samples[("compensation_health_check_ok", (("check", "cluster"),))] == 1.0
    assert samples[("compensation_health_check_ok", (("check", "database"),))] == 1.0
    assert samples[("compensation_review_queue_cases", ())] == 3.0
    assert 600 <= samples[("compensation_review_queue_oldest_seconds", ())] < 610
    assert samples[("compensation_waiting_batches", (("sku", "IG-WAIT"),))] == 2.0
    assert samples[("compensation_waiting_accounts", (("sku", "IG-WAIT"),))] == 7.0
    assert 1800 <= samples[("compensation_waiting_oldest_seconds", (("sku", "IG-WAIT"),))] < 1810
    assert samples[("compensation_status_breaker_open", ())] == 0.0
    assert samples[("compensation_task_queue_depth", ())] == 0.0
    answers = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "compensation_http_responses_total" and value
    }
    assert answers == {
        (("area", "health"), ("outcome", "success")): 1.0,
        (("area", "other"), ("outcome", "client_error")): 1.0,
        (("area", "api"), ("outcome", "client_error")): 1.0,
    }


def test_status_calls_are_counted_by_result_with_their_latency(
    client: Client, settings: Any, status_double: Any
) -> None:
    settings.METRICS_TOKEN = TOKEN
    status_double.double.set("instagram", "fine", profile(username="fine", state="active"))
    status_double.double.set("instagram", "broken", status(503))
    status_double.double.latency = 0.03
    http = StatusClient(base_url=status_double.url, max_attempts=2, backoff_base=0.01)
    try:
        http.fetch_many(
            [ProfileQuery(1, "instagram", "fine"), ProfileQuery(2, "instagram", "broken")]
        )
    finally:
        http.close()

    samples = _samples(
        client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
    )

    assert samples[("compensation_status_calls_total", (("result", "ok"),))] == 1.0
    assert samples[("compensation_status_calls_total", (("result", "server_error"),))] == 2.0
    assert samples[("compensation_status_call_duration_seconds_count", ())] == 3.0
    # 30 ms of latency each: none under 25 ms, all three under 250 ms
    assert samples[("compensation_status_call_duration_seconds_bucket", (("le", "0.025"),))] == 0
    assert samples[("compensation_status_call_duration_seconds_bucket", (("le", "0.25"),))] == 3
    assert 0.09 <= samples[("compensation_status_call_duration_seconds_sum", ())] < 0.75


def test_counting_mail_backend_counts_sent_and_failed_and_delegates(settings: Any) -> None:
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    connection = get_connection("compensation.health.mail.CountingEmailBackend")
    message = EmailMessage("hello", "body", "desk@example.com", ["buyer@example.com"])

    assert connection.send_messages([message, message]) == 2
    assert len(mail.outbox) == 2

    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    failing = get_connection("compensation.health.mail.CountingEmailBackend")
    with pytest.raises(OSError):
        failing.send_messages([message])

    values = counters.read_all()
    assert values[counters.email_key("sent")] == 2
    assert values[counters.email_key("failed")] == 1
    assert len(mail.outbox) == 2


def test_counters_survive_a_cache_outage_without_failing_the_caller(settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    counters.http_answer_observed(area="api", status_code=202)  # no exception
    counters.status_call_observed(seconds=0.1, error=None)
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises; /metrics says so
        counters.read_all()
