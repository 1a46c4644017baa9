"""A burst of submissions against a running Stack (tests/prod_stack.py) and the invariants
checked afterwards, with the figures measured on the way. Used by tests/test_scaleout_burst.py
(small burst, asserts) and bench/bench_scaleout.py (larger bursts, prints the figures).

Shape: `orders` orders alternating two products, each one line of 1–3 accounts, all of which the
status double reports locked and untouched (approved). Every order is submitted twice at the
same moment, once to each web server. One product has stock for every replacement; the other
starts with about 40 % of what it will owe; once some of its batches wait, the rest arrives
through `manage.py import_stock` (three single accounts, one import each, then the remainder)
while the burst is still running, so batches wait and must be served first come, first served.
Checked once by hand: with the drain's `break` turned into `continue` (a smaller batch may
overtake), `fifo_violations` lists the overtakes and the test fails.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

from .prod_stack import (
    BROKER_REDIS,
    Stack,
    Web,
    history_order,
    wait_for,
    write_orders,
    write_products,
    write_stock,
)

PLENTIFUL, SCARCE = "IG-AGED", "X-FRESH"
SINGLE_RESTOCKS = 3


@dataclass
class Plan:
    orders: list[dict[str, Any]]
    owed: dict[str, int]  # accounts owed per product
    scarce_initial: int


def prepare(desk: Stack, tmp: Path, *, orders: int) -> Plan:
    desk.deploy()
    desk.manage(
        "import_products",
        str(
            write_products(
                tmp / "products.csv", [(PLENTIFUL, "IG", "instagram"), (SCARCE, "X", "x")]
            )
        ),
    )
    placed = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    made, owed = [], Counter[str]()
    for i in range(orders):
        sku = PLENTIFUL if i % 2 == 0 else SCARCE
        quantity = 1 + (i * 7) % 3  # 1, 2 or 3: small batches behind large ones
        made.append(
            history_order(
                f"B{i:05d}",
                f"buyer{i}@example.com",
                sku,
                [f"{sku.lower()}_sold_{i}_{k}" for k in range(quantity)],
                placed,
            )
        )
        owed[sku] += quantity
    desk.manage("import_orders", str(write_orders(tmp / "orders.json", made)))
    scarce_initial = int(owed[SCARCE] * 0.4)
    desk.manage(
        "import_stock",
        str(
            write_stock(
                tmp / "stock-a.csv", PLENTIFUL, [f"ig_spare_{n}" for n in range(owed[PLENTIFUL])]
            )
        ),
    )
    desk.manage(
        "import_stock",
        str(
            write_stock(
                tmp / "stock-b.csv", SCARCE, [f"x_spare_{n}" for n in range(scarce_initial)]
            )
        ),
    )
    return Plan(orders=made, owed=dict(owed), scarce_initial=scarce_initial)


@dataclass
class Sampler:
    """Samples PostgreSQL connections, advisory-lock waiters, the task queue and the load."""

    database_url: str
    interval: float = 0.25
    peaks: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return dict(self.peaks)

    def _run(self) -> None:
        name = self.database_url.rsplit("/", 1)[1]
        admin = self.database_url.rsplit("/", 1)[0] + "/postgres"
        broker = redis.Redis.from_url(BROKER_REDIS)
        with psycopg.connect(admin, autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                row = conn.execute(
                    """SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = %s),
                              (SELECT count(*) FROM pg_stat_activity
                                WHERE datname = %s AND state = 'active'),
                              (SELECT count(*) FROM pg_locks
                                WHERE locktype = 'advisory' AND NOT granted)""",
                    (name, name),
                ).fetchone()
                assert row is not None
                self._peak("pg_connections", row[0])
                self._peak("pg_active", row[1])
                self._peak("advisory_lock_waiters", row[2])
                self._peak("task_queue_depth", broker.llen("django_q:compensation:q"))
                self._peak("load_1min", _loadavg())

    def _peak(self, key: str, value: float) -> None:
        self.peaks[key] = max(self.peaks.get(key, 0), float(value))


def _loadavg() -> float:
    with open("/proc/loadavg") as handle:
        return float(handle.read().split()[0])


@dataclass
class Submission:
    order_id: str
    server: int
    status: int
    request_id: str | None
    seconds: float


def burst(
    desk: Stack, webs: list[Web], plan: Plan, tmp: Path, *, threads: int = 32
) -> dict[str, Any]:
    """Submit every order to both servers at once, restock the scarce product once its batches
    wait, wait for every replacement and e-mail; returns the figures."""
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = desk.client()
        return local.session

    def submit(order: dict[str, Any], server: int) -> Submission:
        started = time.monotonic()
        answer = session().post(
            f"{webs[server].url}/api/v1/compensation-requests",
            json={
                "email": order["email"],
                "order_id": order["order_id"],
                "reason": "locked",
                "password_change_warning": False,
            },
            timeout=60,
        )
        elapsed = time.monotonic() - started
        rid = answer.json().get("id") if answer.status_code in (200, 202) else None
        return Submission(order["order_id"], server, answer.status_code, rid, elapsed)

    restock: dict[str, Any] = {}

    def restock_once_batches_wait() -> None:
        # The rest of the scarce stock arrives once a few of its batches are waiting (they
        # must: its first stock covers 40 % of what it owes), so the queue it drains is real.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and _waiting(desk, SCARCE) < 3:
            time.sleep(0.25)
        restock["waiting_when_restocked"] = _waiting(desk, SCARCE)
        # First single accounts, one import each: a drain then has less stock than the head of
        # the queue may need, the moment a smaller batch behind it could overtake (it must not).
        missing = plan.owed[SCARCE] - plan.scarce_initial
        started = time.monotonic()
        for n in range(SINGLE_RESTOCKS):
            desk.manage(
                "import_stock",
                str(write_stock(tmp / f"stock-single-{n}.csv", SCARCE, [f"x_single_{n}"])),
            )
        rest = [f"x_late_{n}" for n in range(missing - SINGLE_RESTOCKS)]
        desk.manage("import_stock", str(write_stock(tmp / "stock-c.csv", SCARCE, rest)))
        restock["seconds"] = time.monotonic() - started

    sampler = Sampler(desk.database_url)
    sampler.start()
    restocker = threading.Thread(target=restock_once_batches_wait)
    restocker.start()
    t0 = time.monotonic()
    wall0 = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(submit, order, server) for order in plan.orders for server in (0, 1)]
        results = [future.result() for future in futures]
    submit_seconds = time.monotonic() - t0
    restocker.join(timeout=300)

    total_accounts = sum(plan.owed.values())
    wait_for(
        lambda: (
            desk.sql(
                """SELECT count(*) FROM compensation_replacementbatch WHERE state = 'delivered'"""
            )[0][0]
            == len(plan.orders)
        ),
        600,
        interval=0.5,
    )
    delivered_seconds = time.monotonic() - t0
    notifications = wait_for(lambda: _all_sent(desk), 300, interval=0.5)
    wait_for(lambda: len(desk.emails()) >= notifications, 120, interval=0.5)
    emails_seconds = time.monotonic() - t0
    time.sleep(2)  # a duplicate would arrive now
    peaks = sampler.stop()

    latencies = sorted(r.seconds for r in results)
    decided_last = desk.sql("SELECT max(decided_at) FROM compensation_compensationrequest")[0][0]
    return {
        "orders": len(plan.orders),
        "submissions": len(results),
        "accounts_checked": total_accounts,
        "replacements": total_accounts,
        "scarce_initial_stock": plan.scarce_initial,
        "scarce_owed": plan.owed[SCARCE],
        "statuses": dict(Counter(r.status for r in results)),
        "submit_seconds": round(submit_seconds, 2),
        "submissions_per_second": round(len(results) / submit_seconds, 1),
        "latency_p50_ms": round(statistics.median(latencies) * 1000),
        "latency_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000),
        "latency_max_ms": round(latencies[-1] * 1000),
        "all_decided_seconds": round((decided_last - wall0).total_seconds(), 2),
        "all_delivered_seconds": round(delivered_seconds, 2),
        "all_emails_seconds": round(emails_seconds, 2),
        "restock_imports": SINGLE_RESTOCKS + 1,
        "restock_import_seconds": round(restock.get("seconds", 0.0), 2),
        "waiting_when_restocked": restock.get("waiting_when_restocked"),
        "status_calls": desk.status.total_requests,
        "status_max_concurrency": desk.status.max_concurrency,
        **{f"peak_{k}": v for k, v in peaks.items()},
        "submissions_detail": results,
    }


def _waiting(desk: Stack, sku: str) -> int:
    return int(
        desk.sql(
            """SELECT count(*) FROM compensation_replacementbatch b JOIN inventory_product p
                 ON p.id = b.product_id WHERE p.sku = %s AND b.state = 'waiting'""",
            (sku,),
        )[0][0]
    )


def _all_sent(desk: Stack) -> int:
    """How many e-mails went out, once none is left to send (an update that found nothing new
    to tell is skipped, not sent)."""
    rows = desk.sql(
        "SELECT count(*) FILTER (WHERE state = 'sent'), "
        "count(*) FILTER (WHERE state IN ('queued', 'sending')) FROM compensation_notification"
    )[0]
    return int(rows[0]) if rows[1] == 0 and rows[0] else 0


def invariants(desk: Stack, plan: Plan, figures: dict[str, Any]) -> dict[str, Any]:
    """Facts that must hold after the burst; each entry is compared with its expected value."""
    sql = desk.sql
    owed_total = sum(plan.owed.values())
    facts: dict[str, Any] = {}
    facts["accounts_approved_twice"] = sql(
        """SELECT account_id FROM compensation_accountdecision WHERE decision = 'approved'
           GROUP BY account_id HAVING count(*) > 1"""
    )
    facts["approved_accounts"] = sql(
        "SELECT count(*) FROM compensation_accountdecision WHERE decision = 'approved'"
    )[0][0]
    facts["lines_with_two_batches"] = sql(
        """SELECT line_id FROM compensation_replacementbatch GROUP BY line_id HAVING count(*) > 1"""
    )
    facts["batches_not_paid_exactly"] = sql(
        """SELECT b.id FROM compensation_replacementbatch b
             LEFT JOIN inventory_account a ON a.replacement_batch_id = b.id
                   AND a.line_id = b.line_id AND a.product_id = b.product_id
            GROUP BY b.id, b.quantity HAVING count(a.id) <> b.quantity"""
    )
    facts["replacement_accounts"] = sql(
        "SELECT count(*) FROM inventory_account WHERE delivery_kind = 'compensation'"
    )[0][0]
    handed = [
        int(account_id)
        for (ids,) in sql(
            "SELECT data->'account_ids' FROM orders_event WHERE kind = 'batch_delivered'"
        )
        for account_id in ids
    ]
    facts["stock_handed_out_twice"] = sorted(a for a, n in Counter(handed).items() if n > 1)
    facts["handed_out_matches_accounts"] = sorted(handed) == sorted(
        r[0] for r in sql("SELECT id FROM inventory_account WHERE delivery_kind = 'compensation'")
    )
    # FIFO per product. Drains of one product are serialised (advisory lock) and write their
    # events inside it, so event ids give the real order of drains. Replaying them: when a batch
    # is delivered, no batch ahead of it in (approved_at, id) order may be known to be waiting
    # (reported short of stock by an earlier drain) and still undelivered.
    facts["fifo_violations"] = fifo_violations(desk)
    # For information: pairs delivered in the other order than their approval times. Allowed
    # when the earlier-stamped batch was not waiting yet (its check committed later).
    facts["approval_order_inversions"] = approval_order_inversions(desk)
    facts["scarce_batches_that_waited"] = sql(
        """SELECT count(*) FROM compensation_replacementbatch b JOIN inventory_product p
             ON p.id = b.product_id WHERE p.sku = %s AND b.unavailable_notified_at IS NOT NULL""",
        (SCARCE,),
    )[0][0]
    facts["requests_in_progress"] = sql(
        "SELECT count(*) FROM compensation_compensationrequest WHERE status = 'checking'"
    )[0][0]
    # E-mails: every notification sent, each exactly once, to its own customer.
    messages = desk.emails()
    notifications = sql(
        """SELECT "to", count(*) FROM compensation_notification WHERE state = 'sent' GROUP BY 1"""
    )
    facts["emails_written"] = len(messages)
    facts["notifications"] = sum(n for _, n in notifications)
    facts["emails_per_recipient_match"] = dict(Counter(str(m["To"]) for m in messages)) == {
        to: n for to, n in notifications
    }
    facts["duplicate_message_ids"] = [
        mid for mid, n in Counter(str(m["Message-ID"]) for m in messages).items() if n > 1
    ]
    # HTTP: every submission answered 202 (new) or 200 (the one in progress); a twin that came
    # after the first was decided is a new request whose line is refused `already_compensated`.
    facts["bad_statuses"] = {s: n for s, n in figures["statuses"].items() if s not in (200, 202)}
    facts["twin_requests_that_used_a_line"] = sql(
        """SELECT r.order_id FROM compensation_compensationrequest r
             JOIN compensation_lineclaim c ON c.request_id = r.id
            WHERE c.uses_compensation GROUP BY r.order_id HAVING count(*) > 1"""
    )
    facts["expected_accounts"] = owed_total
    return facts


def fifo_violations(desk: Stack) -> list[tuple[int, int]]:
    keys = {
        batch_id: (approved_at, batch_id)
        for batch_id, approved_at in desk.sql(
            "SELECT id, approved_at FROM compensation_replacementbatch"
        )
    }
    products = {
        bid: pid
        for bid, pid in desk.sql("SELECT id, product_id FROM compensation_replacementbatch")
    }
    waiting: dict[int, set[int]] = {}
    violations = []
    for kind, batch_id in desk.sql(
        """SELECT kind, batch_id FROM orders_event
            WHERE kind IN ('batch_waiting', 'batch_delivered') ORDER BY id"""
    ):
        known = waiting.setdefault(products[batch_id], set())
        if kind == "batch_waiting":
            known.add(batch_id)
            continue
        known.discard(batch_id)
        violations += [(ahead, batch_id) for ahead in known if keys[ahead] < keys[batch_id]]
    return sorted(violations)


def approval_order_inversions(desk: Stack) -> int:
    inversions = 0
    for (product_id,) in desk.sql("SELECT DISTINCT product_id FROM compensation_replacementbatch"):
        rows = desk.sql(
            """SELECT delivered_at FROM compensation_replacementbatch WHERE product_id = %s
               ORDER BY approved_at, id""",
            (product_id,),
        )
        inversions += sum(1 for (a,), (b,) in itertools.pairwise(rows) if b < a)
    return inversions
