"""Benchmark: the public GETs under gunicorn (2 sync workers) with a load generator, beside the
anchor of the same run: a minimal one-query Django view served by the same gunicorn through the
same middleware (bench/http_urls.py).

Pages: the API GET of a request, the result page, the order page (signed link). Rounds
alternate the URLs; medians are printed, with the SQL statements each page runs. Load: wrk
(`apt-get install wrk`), else a threaded Python client (printed). Target (issue 12): API GET
>= 0.5x the anchor's requests/s, p99 <= 50 ms.
Run: `make bench-http` (needs the local PostgreSQL; uses a throwaway database)."""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PG_ADMIN_URL, throwaway_database
from bench.servers import Load, bench_env, gunicorn, load

DATABASE = "bench_http"
RATIO_TARGET = 0.5
P99_TARGET_MS = 50.0


def _data() -> dict[str, str]:
    """One order of three accounts and its decided request; returns the paths to load."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from bench.bench_decide_order import locked_profile, order_with_accounts
    from compensation.order_page import order_page_link_issue
    from compensation.services.checks import request_run_checks
    from compensation.services.submit import request_submit
    from compensation.status import reset_status_client
    from compensation.status.double import StatusDouble
    from inventory.models import Product

    now = timezone.now()
    product = Product.objects.create(sku="HTTP", name="Bench account", platform="instagram")
    order = order_with_accounts(order_ref="H1", tag="h", count=3, product=product, now=now)
    with StatusDouble() as double:
        for i in range(3):
            double.set("instagram", f"h_{i}", locked_profile(f"h_{i}", f"h-{i}"))
        settings.STATUS_API_URL = double.url
        reset_status_client()
        request = request_submit(
            email=order.email,
            order_id=order.order_id,
            reason="bench",
            password_change_warning=False,
            skus=None,
            now=now - timedelta(minutes=1),
        ).request
        request_run_checks(request_id=request.id, now=now)
    link = urlsplit(order_page_link_issue(order=order, now=now)).path
    return {
        "anchor: minimal one-query view": "/bench/minimal",
        "API GET of a request": f"/api/v1/compensation-requests/{request.id}",
        "result page": f"/requests/{request.id}/",
        "order page": link,
    }


def _statements(paths: dict[str, str]) -> dict[str, int]:
    """SQL statements each page runs, served in this process after one warm-up GET (Django's
    connection health check, a `SELECT 1` outside its query log, is not counted)."""
    from django.conf import settings
    from django.db import close_old_connections, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    counts = {}
    with override_settings(ROOT_URLCONF="bench.http_urls", ALLOWED_HOSTS=settings.ALLOWED_HOSTS):
        client = Client(HTTP_HOST="127.0.0.1")
        for name, path in paths.items():
            client.get(path)
            close_old_connections()
            with CaptureQueriesContext(connection) as captured:
                assert client.get(path).status_code == 200, path
            counts[name] = len(captured.captured_queries)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with throwaway_database(DATABASE):
        paths = _data()
        statements = _statements(paths)
        env = bench_env(
            DJANGO_SETTINGS_MODULE="bench.http_settings",
            DATABASE_URL=f"{PG_ADMIN_URL}/{DATABASE}",
            DEBUG="false",
        )
        runs: dict[str, list[Load]] = {name: [] for name in paths}
        with gunicorn(workers=2, env=env) as base:
            for path in paths.values():  # warm every worker and connection
                load(base + path, seconds=1, connections=args.connections)
            for _ in range(args.rounds):
                for name, path in paths.items():
                    runs[name].append(
                        load(base + path, seconds=args.seconds, connections=args.connections)
                    )
    tool = next(iter(runs.values()))[0].tool
    print(
        f"gunicorn, 2 sync workers; load: {tool}, {args.connections} connections, "
        f"{args.rounds} rounds of {args.seconds:.0f} s per URL (medians); SQL: statements per "
        "GET (besides Django's connection health check, a SELECT 1 that the API GET's own "
        "statement stands in for)"
    )
    anchor_name = next(iter(paths))
    anchor = statistics.median(r.requests_per_s for r in runs[anchor_name])
    results = {}
    for name, loads in runs.items():
        rate = statistics.median(r.requests_per_s for r in loads)
        p50 = statistics.median(r.p50_ms for r in loads)
        p99 = statistics.median(r.p99_ms for r in loads)
        errors = sum(r.errors for r in loads)
        results[name] = (rate, p99)
        print(
            f"  {name:<32} {rate:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
            f"{rate / anchor:5.2f}x the anchor  {statements[name]} SQL"
            + (f"  ({errors} errors)" if errors else "")
        )
    api_rate, api_p99 = results["API GET of a request"]
    ok = api_rate / anchor >= RATIO_TARGET and api_p99 <= P99_TARGET_MS
    print(
        f"API GET: {api_rate / anchor:.2f}x the anchor, p99 {api_p99:.1f} ms — target "
        f">= {RATIO_TARGET}x and p99 <= {P99_TARGET_MS:.0f} ms: {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
