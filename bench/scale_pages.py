"""The admin pages staff use, with the searches and filters they type, measured through the test
client: median wall time of a few runs, the number of SQL queries, the size of the HTML.

Used by `bench/bench_scale.py` (the shop-sized run) and by `tests/test_bench_scale.py` (the same
pages at two tiny sizes, so the harness and the constant query counts are checked in CI).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bench.scale_data import Dataset

QUERY_LIMIT = 25
TIME_LIMIT_MS = 150.0
BIG_REQUEST_LIMIT_MS = 300.0
BIG_REQUEST_RATIO = 8.0
# The smallest admin page there is (a dozen canned reasons): the machine's own noise, measured in
# the same run as everything else.
ANCHOR = "canned reasons list (anchor)"
REQUEST_10 = "request page, 10 decisions"
REQUEST_1000 = "request page, 1,000 decisions"


@dataclass(frozen=True)
class Page:
    name: str
    url: Callable[[dict[str, Any], datetime], str]


@dataclass(frozen=True)
class PageResult:
    name: str
    url: str
    median_ms: float
    queries: int
    html_kb: float


def _changelist(model: str, query: str = "") -> Callable[[dict[str, Any], datetime], str]:
    def build(ids: dict[str, Any], now: datetime) -> str:
        from django.urls import reverse

        url = reverse(f"admin:{model}_changelist")
        if not query:
            return url
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return (
            url
            + "?"
            + query.format(
                **ids,
                today=midnight,
                day_start=quote(str(midnight)),
                day_end=quote(str(midnight + _DAY)),
            )
        )

    return build


def _change(model: str, key: str) -> Callable[[dict[str, Any], datetime], str]:
    def build(ids: dict[str, Any], now: datetime) -> str:
        from django.urls import reverse

        return reverse(f"admin:{model}_change", args=[ids[key]])

    return build


_DAY = timedelta(days=1)
DECISIONS = "compensation_accountdecision"
REQUESTS = "compensation_compensationrequest"
BATCHES = "compensation_replacementbatch"
ORDERS = "orders_order"
EVENTS = "inventory_event"
ACCOUNTS = "inventory_account"

PAGES: tuple[Page, ...] = (
    Page(ANCHOR, _changelist("compensation_cannedreason")),
    Page("admin index", lambda ids, now: "/admin/"),
    # The review queue and the decisions behind it.
    Page("review queue (waiting)", _changelist(DECISIONS)),
    Page("review queue, waiting > 1 day", _changelist(DECISIONS, "age=1d")),
    Page("review queue, unassigned", _changelist(DECISIONS, "claimed=unassigned")),
    Page("review queue, one product", _changelist(DECISIONS, "product={product}")),
    Page("review queue, one platform", _changelist(DECISIONS, "platform=instagram")),
    Page("decisions, all", _changelist(DECISIONS, "queue=all")),
    Page("decisions, decided by staff", _changelist(DECISIONS, "queue=reviewed")),
    Page("decisions, one rule", _changelist(DECISIONS, "queue=all&rule={rule}")),
    Page(
        "decisions, search username",
        _changelist(DECISIONS, "queue=all&q={account_username}"),
    ),
    Page("decisions, search order id", _changelist(DECISIONS, "queue=all&q={order_ref}")),
    Page("review case page", _change(DECISIONS, "review_case")),
    Page("decided case page", _change(DECISIONS, "decided_case")),
    # Requests.
    Page("requests list", _changelist(REQUESTS)),
    Page("requests, search order id", _changelist(REQUESTS, "q={order_ref}")),
    Page("requests, search e-mail", _changelist(REQUESTS, "q={order_email}")),
    Page("requests, still checking", _changelist(REQUESTS, "status__exact=checking")),
    Page("requests, e-mail failed", _changelist(REQUESTS, "email_failed=yes")),
    Page(
        "requests, received today",
        _changelist(REQUESTS, "received_at__gte={day_start}&received_at__lt={day_end}"),
    ),
    Page("request page, 2 decisions", _change(REQUESTS, "request")),
    Page(REQUEST_10, _change(REQUESTS, "request_10")),
    Page(REQUEST_1000, _change(REQUESTS, "request_1000")),
    # Replacement batches.
    Page("batches list (+ queue per product)", _changelist(BATCHES)),
    Page("batches, waiting", _changelist(BATCHES, "state__exact=waiting")),
    Page("batches, one product", _changelist(BATCHES, "product__id__exact={product}")),
    Page("batch page", _change(BATCHES, "batch")),
    # Orders, links and the audit trail.
    Page("orders list", _changelist(ORDERS)),
    Page("orders, search order id", _changelist(ORDERS, "q={order_ref}")),
    Page("orders, search e-mail", _changelist(ORDERS, "q={order_email}")),
    Page(
        "orders, placed today",
        _changelist(ORDERS, "placed_at__gte={day_start}&placed_at__lt={day_end}"),
    ),
    Page("order page", _change(ORDERS, "order")),
    Page("order page, 1,000 accounts", _change(ORDERS, "big_order")),
    Page("order links list", _changelist("orders_orderlink")),
    Page("order links, search order id", _changelist("orders_orderlink", "q={order_ref}")),
    Page("events list", _changelist(EVENTS)),
    Page("events, one kind", _changelist(EVENTS, "kind=batch_delivered")),
    Page("events, search order id", _changelist(EVENTS, "q={order_ref}")),
    Page("events, search username", _changelist(EVENTS, "q={account_username}")),
    Page("event page", _change(EVENTS, "event")),
    # Stock.
    Page("products list", _changelist("inventory_product")),
    Page("product page", _change("inventory_product", "product")),
    Page("accounts list", _changelist(ACCOUNTS)),
    Page("accounts, search username", _changelist(ACCOUNTS, "q={account_username}")),
    Page("accounts, search order id", _changelist(ACCOUNTS, "q={order_ref}")),
    Page("accounts, in stock", _changelist(ACCOUNTS, "state__exact=in_stock")),
    Page("accounts, one product", _changelist(ACCOUNTS, "product__id__exact={product}")),
    Page("accounts, one supplier", _changelist(ACCOUNTS, "supplier={supplier}")),
    Page("account page (sold)", _change(ACCOUNTS, "account")),
    Page("account page (in stock)", _change(ACCOUNTS, "stock_account")),
    Page("import batches list", _changelist("inventory_importbatch")),
    Page("import batch page", _change("inventory_importbatch", "import_batch")),
)


class PageError(AssertionError):
    pass


def pages_measure(
    *, dataset: Dataset, now: datetime, repeat: int = 3, log: bool = False
) -> list[PageResult]:
    """Every page: one warm-up, `repeat` timed runs (median), one run counting queries
    (`repeat=0`: the counting run is timed as well)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # A host every settings file allows (the test client's "testserver" is only allowed under
    # the test runner, whose template instrumentation would skew the timings).
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(pk=dataset.superuser_id))
    results = []
    for page in PAGES:
        url = page.url(dataset.ids, now)
        client.get(url)  # warms the caches (content types, templates) before anything counts
        timings = []
        for _ in range(repeat):
            begun = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - begun) * 1000)
        begun = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        if response.status_code != 200:
            raise PageError(f"{page.name}: GET {url} answered {response.status_code}")
        result = PageResult(
            name=page.name,
            url=url,
            median_ms=statistics.median(timings or [(time.perf_counter() - begun) * 1000]),
            queries=len(captured.captured_queries),
            html_kb=len(response.content) / 1024,
        )
        if log:
            print(_row(result), flush=True)
        results.append(result)
    return results


def _row(r: PageResult) -> str:
    return f"  {r.name:<40} {r.median_ms:9.1f} ms {r.queries:6d} q {r.html_kb:9.1f} KB"


def count_problems(results: list[PageResult], other: list[PageResult] | None = None) -> list[str]:
    """Query-count failures: over the limit, or different at another data size."""
    problems = [
        f"{r.name}: {r.queries} queries (limit {QUERY_LIMIT})"
        for r in results
        if r.queries > QUERY_LIMIT
    ]
    if other is not None:
        theirs = {r.name: r.queries for r in other}
        problems += [
            f"{r.name}: {r.queries} queries here, {theirs[r.name]} at the other size"
            for r in results
            if r.name in theirs and theirs[r.name] != r.queries
        ]
    by_name = {r.name: r for r in results}
    small, big = by_name.get(REQUEST_10), by_name.get(REQUEST_1000)
    if small and big and small.queries != big.queries:
        problems.append(
            f"request page: {small.queries} queries with 10 decisions, {big.queries} with 1,000"
        )
    return problems
