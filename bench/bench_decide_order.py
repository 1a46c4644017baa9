"""Benchmark: a 1,000-account order fully decided against a loopback status service that takes
20 ms per call. Prints the wall time and its ratio to the sequential time (1,000 × 20 ms).
Target (issue 3): ratio <= 0.1.  Run: `make bench-decide` (needs the local PostgreSQL)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import throwaway_database

ACCOUNTS = 1000
LATENCY = 0.020


def main() -> int:
    with throwaway_database("bench_decide"):
        from datetime import timedelta

        from django.conf import settings
        from django.utils import timezone

        from compensation.models import AccountDecision
        from compensation.services import checks as checks_service
        from compensation.services.checks import request_run_checks
        from compensation.services.submit import request_submit
        from compensation.status import reset_status_client
        from compensation.status.double import StatusDouble
        from inventory.crypto import Credentials, credentials_seal
        from inventory.interactions import INTERACTION_KINDS
        from inventory.models import Account, Product
        from orders.models import Order, OrderLine

        now = timezone.now()
        product = Product.objects.create(sku="BENCH", name="Bench account", platform="instagram")
        order = Order.objects.create(
            order_id="B1", email="b@example.com", placed_at=now - timedelta(days=2)
        )
        line = OrderLine.objects.create(order=order, product=product, quantity=ACCOUNTS)
        sealed = credentials_seal(Credentials(password="x"))
        Account.objects.bulk_create(
            Account(
                product=product,
                platform="instagram",
                username=f"bench_{i}",
                platform_user_id=str(i),
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
            for i in range(ACCOUNTS)
        )
        with StatusDouble() as double:
            double.latency = LATENCY
            for i in range(ACCOUNTS):
                double.set(
                    "instagram",
                    f"bench_{i}",
                    {
                        "platform": "instagram",
                        "user_id": str(i),
                        "username": f"bench_{i}",
                        "state": "locked",
                        "followers": 250,
                        "interactions": dict.fromkeys(INTERACTION_KINDS, 0),
                    },
                )
            settings.STATUS_API_URL = double.url
            reset_status_client()
            request = request_submit(
                email=order.email,
                order_id=order.order_id,
                reason="bench",
                password_change_warning=False,
                skus=None,
                now=now,
            ).request
            spent = {"store": 0.0}
            original_store = checks_service._decisions_store

            def timed_store(**kwargs: Any) -> int:
                begun = time.perf_counter()
                try:
                    return original_store(**kwargs)
                finally:
                    spent["store"] += time.perf_counter() - begun

            checks_service._decisions_store = timed_store
            started = time.perf_counter()
            request_run_checks(request_id=request.id, now=timezone.now())
            elapsed = time.perf_counter() - started
        decided = (
            AccountDecision.objects.filter(request=request).exclude(decision="pending").count()
        )
        sequential = ACCOUNTS * LATENCY
        ratio = elapsed / sequential
        print(f"accounts decided:        {decided}/{ACCOUNTS}")
        print(f"in flight at most:       {settings.STATUS_API_MAX_IN_FLIGHT}")
        print(
            f"wall time:               {elapsed:.3f} s "
            f"(writing decisions: {spent['store']:.3f} s, max concurrency seen: "
            f"{double.max_concurrency})"
        )
        print(f"sequential (1000×20 ms): {sequential:.3f} s")
        verdict = "MET" if ratio <= 0.1 else "MISSED"
        print(f"ratio:                   {ratio:.3f}  (target <= 0.100: {verdict})")
        return 0 if decided == ACCOUNTS else 1


if __name__ == "__main__":
    raise SystemExit(main())
