"""Benchmark: a 1,000-account order fully decided in-process against a loopback status service
that takes 20 ms per call, beside its anchor from the same run: a plain concurrent HTTP client
of the library the status client uses (a urllib3 connection pool, as many threads as
STATUS_API_MAX_IN_FLIGHT) doing only the 1,000 calls against the same double. A pooled
requests.Session doing the same is printed too (the anchor before the client moved to urllib3).
Rounds alternate anchors and service; medians are printed, and each round's service over
the anchor run in the same round (paired ratios).

Targets: issue 3, wall time <= 0.1 x sequential (1,000 x 20 ms); issue 12, <= 1.2 x the anchor.
Run: `make bench-decide` (needs the local PostgreSQL; uses a throwaway database)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import throwaway_database

ACCOUNTS = 1000
LATENCY = 0.020
RATIO_TO_SEQUENTIAL = 0.10
RATIO_TO_PLAIN_CLIENT = 1.2


def locked_profile(username: str, user_id: str) -> dict[str, Any]:
    return {
        "platform": "instagram",
        "user_id": user_id,
        "username": username,
        "state": "locked",
        "followers": 250,
        "interactions": dict.fromkeys(
            ("posts", "reposts", "comments", "likes", "follows", "messages"), 0
        ),
    }


def order_with_accounts(*, order_ref: str, tag: str, count: int, product: Any, now: Any) -> Any:
    """One order of `count` delivered accounts (baseline: 250 followers, no interactions)."""
    from datetime import timedelta

    from inventory.crypto import Credentials, credentials_seal
    from inventory.models import Account
    from orders.models import Order, OrderLine

    order = Order.objects.create(
        order_id=order_ref, email=f"{tag}@example.com", placed_at=now - timedelta(days=2)
    )
    line = OrderLine.objects.create(order=order, product=product, quantity=count)
    sealed = credentials_seal(Credentials(password="x"))
    Account.objects.bulk_create(
        Account(
            product=product,
            platform="instagram",
            username=f"{tag}_{i}",
            platform_user_id=f"{tag}-{i}",
            credentials_sealed=sealed,
            state="delivered",
            line=line,
            delivered_at=order.placed_at,
            delivery_kind="sale",
            baseline_followers=250,
            baseline_posts=0,
            baseline_reposts=0,
            baseline_comments=0,
            baseline_likes=0,
            baseline_follows=0,
            baseline_messages=0,
        )
        for i in range(count)
    )
    return order


def plain_client_seconds(base_url: str, usernames: list[str], threads: int) -> float:
    """The anchor: only the HTTP calls, concurrently, over one urllib3 pool (the status
    client's own library)."""
    import json

    import urllib3

    pool = urllib3.PoolManager(maxsize=threads, block=True)

    def one(username: str) -> None:
        response = pool.request(
            "GET",
            f"{base_url}/v1/profiles/instagram/{username}",
            timeout=urllib3.Timeout(connect=2, read=5),
            retries=False,
        )
        assert response.status == 200, response.status
        json.loads(response.data)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool_threads:
        list(pool_threads.map(one, usernames))
    elapsed = time.perf_counter() - started
    pool.clear()
    return elapsed


def requests_client_seconds(base_url: str, usernames: list[str], threads: int) -> float:
    """The same calls over one pooled requests.Session (printed for comparison)."""
    import requests

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=threads)
    session.mount("http://", adapter)

    def one(username: str) -> None:
        response = session.get(f"{base_url}/v1/profiles/instagram/{username}", timeout=(2, 5))
        response.raise_for_status()
        response.json()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, usernames))
    elapsed = time.perf_counter() - started
    session.close()
    return elapsed


class Phases:
    """Where the service's time goes, per round: before the first call, the calls (the window in
    which the answers are also judged), and the store after the last answer (bench-only wrappers
    around `StatusClient.fetching` and `checks.decisions_store`)."""

    def __init__(self) -> None:
        self.rounds: list[dict[str, float]] = []
        self.started = 0.0

    def install(self) -> None:
        import contextlib

        from compensation.services import checks
        from compensation.status.client import StatusClient

        fetching, store = StatusClient.fetching, checks.decisions_store
        phases = self

        @contextlib.contextmanager
        def timed_fetching(client: Any, queries: Any) -> Any:
            phases.rounds[-1]["before the calls"] = time.perf_counter() - phases.started
            begun = time.perf_counter()
            with fetching(client, queries) as arriving:
                yield arriving
            phases.rounds[-1]["calls, judged as they arrive"] = time.perf_counter() - begun

        def timed_store(**kwargs: Any) -> int:
            begun = time.perf_counter()
            try:
                return store(**kwargs)
            finally:
                phases.rounds[-1]["store"] = time.perf_counter() - begun

        StatusClient.fetching = timed_fetching  # type: ignore[method-assign,assignment]
        checks.decisions_store = timed_store

    def start(self) -> None:
        self.rounds.append({})
        self.started = time.perf_counter()

    def medians(self) -> dict[str, float]:
        names = self.rounds[0].keys()
        return {name: statistics.median(r[name] for r in self.rounds) for name in names}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with throwaway_database("bench_decide"):
        from django.conf import settings
        from django.utils import timezone

        from compensation.models import AccountDecision
        from compensation.services.checks import request_run_checks
        from compensation.services.submit import request_submit
        from compensation.status import reset_status_client
        from compensation.status.double import StatusDouble
        from inventory.models import Product

        now = timezone.now()
        product = Product.objects.create(sku="BENCH", name="Bench account", platform="instagram")
        orders = [
            order_with_accounts(
                order_ref=f"B{r}", tag=f"r{r}", count=ACCOUNTS, product=product, now=now
            )
            for r in range(args.rounds)
        ]
        threads = settings.STATUS_API_MAX_IN_FLIGHT
        phases = Phases()
        phases.install()
        service_times: list[float] = []
        anchor_times: list[float] = []
        requests_times: list[float] = []
        decided_total = 0
        with StatusDouble() as double:
            double.latency = LATENCY
            for r in range(args.rounds):
                for i in range(ACCOUNTS):
                    double.set("instagram", f"r{r}_{i}", locked_profile(f"r{r}_{i}", f"r{r}-{i}"))
            settings.STATUS_API_URL = double.url
            reset_status_client()
            for r, order in enumerate(orders):
                usernames = [f"r{r}_{i}" for i in range(ACCOUNTS)]
                anchor_times.append(plain_client_seconds(double.url, usernames, threads))
                requests_times.append(requests_client_seconds(double.url, usernames, threads))
                request = request_submit(
                    email=order.email,
                    order_id=order.order_id,
                    reason="bench",
                    password_change_warning=False,
                    skus=None,
                    now=timezone.now(),
                ).request
                phases.start()
                started = time.perf_counter()
                request_run_checks(request_id=request.id, now=timezone.now())
                service_times.append(time.perf_counter() - started)
                decided_total += (
                    AccountDecision.objects.filter(request=request)
                    .exclude(decision="pending")
                    .count()
                )
        service = statistics.median(service_times)
        anchor = statistics.median(anchor_times)
        sequential = ACCOUNTS * LATENCY
        print(f"accounts decided:        {decided_total}/{ACCOUNTS * args.rounds}")
        print(f"in flight at most:       {threads} (max concurrency seen {double.max_concurrency})")
        print(
            f"service, in-process:     {service:.3f} s median of {args.rounds} "
            f"({', '.join(f'{t:.3f}' for t in service_times)})"
        )
        print(
            f"anchor, plain urllib3:   {anchor:.3f} s median of {args.rounds} "
            f"({', '.join(f'{t:.3f}' for t in anchor_times)})"
        )
        print(
            f"same calls, requests:    {statistics.median(requests_times):.3f} s median of "
            f"{args.rounds} ({', '.join(f'{t:.3f}' for t in requests_times)})"
        )
        print(
            "service's phases:        "
            + ", ".join(f"{name} {t:.3f} s" for name, t in phases.medians().items())
            + " (medians)"
        )
        ratio_anchor = service / anchor
        # Each round's service beside the anchor run in the same round: the machine's state is
        # shared by the pair, so their ratios vary less than the times do.
        paired = sorted(s / a for s, a in zip(service_times, anchor_times, strict=True))
        print(
            f"paired ratios:           median {statistics.median(paired):.2f}x "
            f"({', '.join(f'{p:.2f}' for p in paired)})"
        )
        ratio_seq = service / sequential
        print(
            f"ratio to the anchor:     {ratio_anchor:.2f}x  (target <= {RATIO_TO_PLAIN_CLIENT}: "
            f"{'met' if ratio_anchor <= RATIO_TO_PLAIN_CLIENT else 'NOT met'})"
        )
        print(
            f"ratio to sequential:     {ratio_seq:.3f}  ({ACCOUNTS} x 20 ms = {sequential:.0f} s; "
            f"target <= {RATIO_TO_SEQUENTIAL}: "
            f"{'met' if ratio_seq <= RATIO_TO_SEQUENTIAL else 'NOT met'})"
        )
        return 0 if decided_total == ACCOUNTS * args.rounds else 1


if __name__ == "__main__":
    raise SystemExit(main())
