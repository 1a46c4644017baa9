"""/metrics in Prometheus' text format, built with prometheus-client at scrape time.

Three sources, each optional (a scrape answers with whatever is reachable):
- the health checks of /healthz (`compensation_health_check_ok{check}`, heartbeat age, breaker);
- the desk-wide event counters in the shared cache (`counters.py`): HTTP answers by area and
  outcome, status-service calls by result and their latency histogram, e-mails sent/failed;
- queue depths and ages read from the database: review queue, accounts waiting for a re-check,
  requests being checked, waiting replacement batches per product, unsent e-mails, the task
  broker's queue. The review and re-check figures use their indexes; waiting batches and unsent
  e-mails are one aggregate each over their tables (fine at a 15–60 s scrape interval up to a
  few hundred thousand rows; see docs/deploy.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Sum
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.status import Stat
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from compensation.health import counters
from compensation.health.checks import oldest_review_case, run_checks
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    Notification,
    ReplacementBatch,
    RequestStatus,
)

logger = logging.getLogger(__name__)

NS = "compensation"
_broker: Broker | None = None


def _task_broker() -> Broker:
    global _broker
    if _broker is None:
        _broker = get_broker()
    return _broker


def _age(now: datetime, then: datetime | None) -> float:
    return math.nan if then is None else max(0.0, (now - then).total_seconds())


def _gauge(name: str, doc: str, value: float, **labels: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{NS}_{name}", doc, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


class DeskCollector:
    def __init__(self, *, now: datetime) -> None:
        self.now = now

    def collect(self) -> Iterator[Metric]:
        report = run_checks(now=self.now)
        yield from self._health(report.checks)
        yield from self._counters()
        if report.checks["database"]["ok"]:
            yield from self._queues()
        yield from self._task_queue()

    # --- health ---------------------------------------------------------------------------------
    def _health(self, checks: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            f"{NS}_health_check_ok",
            "1 when the /healthz check passes, 0 when it fails (absent when it could not run).",
            labels=["check"],
        )
        for name, check in checks.items():
            if check["ok"] is not None:
                family.add_metric([name], 1.0 if check["ok"] else 0.0)
        yield family
        last_seen = checks["cluster"].get("last_seen_seconds")
        if checks["cluster"]["ok"] is not None:
            yield _gauge(
                "cluster_heartbeat_age_seconds",
                "Seconds since a task cluster worker last beat (schedule or worker start).",
                math.nan if last_seen is None else float(last_seen),
            )
        if checks["status_service"]["ok"] is not None:
            yield _gauge(
                "status_breaker_open",
                "1 while the status-service circuit breaker is open.",
                1.0 if checks["status_service"]["breaker"] == "open" else 0.0,
            )
        try:
            running = [s for s in Stat.get_all(broker=_task_broker()) if s.status != Conf.STOPPED]
        except Exception:
            logger.debug("cluster stats unavailable", exc_info=True)
        else:
            yield _gauge(
                "task_clusters",
                "Task clusters reporting to the broker right now (each `qcluster` process).",
                float(len(running)),
            )

    # --- desk-wide counters in the shared cache ---------------------------------------------------
    def _counters(self) -> Iterator[Metric]:
        try:
            values = counters.read_all()
        except Exception:
            logger.warning("metrics: counters unavailable (cache unreachable)")
            yield _gauge("counters_available", "1 when the shared counters could be read.", 0.0)
            return
        yield _gauge("counters_available", "1 when the shared counters could be read.", 1.0)
        http = CounterMetricFamily(
            f"{NS}_http_responses",
            "HTTP answers by area of the site and outcome (all web processes of all nodes).",
            labels=["area", "outcome"],
        )
        for area in counters.AREAS:
            for outcome in counters.OUTCOMES:
                http.add_metric([area, outcome], values[counters.http_key(area, outcome)])
        yield http
        calls = CounterMetricFamily(
            f"{NS}_status_calls",
            "Calls (attempts) to the status service by result.",
            labels=["result"],
        )
        for result in counters.STATUS_RESULTS:
            calls.add_metric([result], values[counters.status_key(result)])
        yield calls
        cumulative, buckets = 0, []
        bounds = [*counters.LATENCY_BUCKETS, math.inf]
        for index, bound in enumerate(bounds):
            cumulative += values[counters.latency_bucket_key(index)]
            buckets.append(("+Inf" if bound == math.inf else repr(float(bound)), cumulative))
        yield HistogramMetricFamily(
            f"{NS}_status_call_duration_seconds",
            "Duration of one call to the status service (headers and body).",
            buckets=buckets,
            sum_value=values[counters.LATENCY_SUM_MS_KEY] / 1000.0,
        )
        emails = CounterMetricFamily(
            f"{NS}_emails",
            "Customer e-mails handed to the mail backend, by result.",
            labels=["result"],
        )
        for result in counters.EMAIL_RESULTS:
            emails.add_metric([result], values[counters.email_key(result)])
        yield emails

    # --- queues (database) ----------------------------------------------------------------------
    def _queues(self) -> Iterator[Metric]:
        now = self.now
        review = AccountDecision.objects.filter(decision=Decision.MANUAL_REVIEW).count()
        yield _gauge("review_queue_cases", "Accounts waiting for a person.", float(review))
        oldest = oldest_review_case(now)
        yield _gauge(
            "review_queue_oldest_seconds",
            "Age of the oldest case waiting for a person.",
            math.nan if oldest is None else float(oldest),
        )
        unverified = AccountDecision.objects.filter(decision=Decision.UNVERIFIED).aggregate(
            n=Count("id"), due=Min("next_check_at")
        )
        yield _gauge(
            "unverified_accounts",
            "Accounts the status service could not read yet (re-checked automatically).",
            float(unverified["n"]),
        )
        due = unverified["due"]
        yield _gauge(
            "recheck_overdue_seconds",
            "How late the most overdue automatic re-check is (0 when none is late).",
            0.0 if due is None or due > now else _age(now, due),
        )
        checking = CompensationRequest.objects.filter(status=RequestStatus.CHECKING).aggregate(
            n=Count("id"), oldest=Min("received_at")
        )
        yield _gauge("requests_checking", "Requests in progress.", float(checking["n"]))
        yield _gauge(
            "requests_checking_oldest_seconds",
            "Age of the oldest request in progress.",
            _age(now, checking["oldest"]),
        )
        batches = GaugeMetricFamily(
            f"{NS}_waiting_batches", "Replacement batches waiting for stock.", labels=["sku"]
        )
        accounts = GaugeMetricFamily(
            f"{NS}_waiting_accounts", "Accounts owed by waiting batches.", labels=["sku"]
        )
        ages = GaugeMetricFamily(
            f"{NS}_waiting_oldest_seconds",
            "Age of the oldest waiting batch (the head of the product's queue).",
            labels=["sku"],
        )
        rows = (
            ReplacementBatch.objects.filter(state=ReplacementBatch.State.WAITING)
            .values("product__sku")
            .annotate(n=Count("id"), owed=Sum("quantity"), oldest=Min("approved_at"))
            .order_by("product__sku")
        )
        for row in rows:
            sku = row["product__sku"]
            batches.add_metric([sku], float(row["n"]))
            accounts.add_metric([sku], float(row["owed"] or 0))
            ages.add_metric([sku], _age(now, row["oldest"]))
        yield from (batches, accounts, ages)
        unsent = Notification.objects.filter(sent_at__isnull=True).aggregate(
            n=Count("id"), oldest=Min("created_at")
        )
        yield _gauge("emails_unsent", "E-mails recorded but not sent yet.", float(unsent["n"]))
        yield _gauge(
            "emails_unsent_oldest_seconds",
            "Age of the oldest e-mail not sent yet.",
            _age(now, unsent["oldest"]),
        )

    def _task_queue(self) -> Iterator[Metric]:
        try:
            depth = _task_broker().queue_size()
        except Exception:
            logger.debug("task queue size unavailable", exc_info=True)
            return
        yield _gauge("task_queue_depth", "Tasks waiting in the broker.", float(depth or 0))


def render(*, now: datetime) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeskCollector(now=now))
    return generate_latest(registry)
