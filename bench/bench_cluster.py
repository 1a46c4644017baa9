"""Benchmark: the task cluster end to end (django-q2, Redis broker, 2 workers) against a status
double that takes 20 ms per call, PostgreSQL, with production's minute schedules running.

1. Throughput: N one-account requests (each with stock for its replacement) written in one
   transaction, so all N check tasks are queued at its commit; from that commit, how many per
   second the cluster takes to the end: every account decided, every replacement delivered, and
   every e-mail they cause sent. The e-mails really sent are counted, not assumed: with the
   e-mail schedule (compensation/services/email_schedule.py) a request gets ONE e-mail, its
   acknowledgement, sent as soon as the request settles (decided and delivered) within the
   acknowledgement's grace period (EMAIL_ACK_GRACE_SECONDS, 30 s), telling the whole outcome; an
   update e-mail follows only for changes after the acknowledgement went out. So the run waits
   until no e-mail row of these orders is still queued or being sent and every acknowledgement is
   sent, and prints what was sent and skipped. The tasks the workers ran (checks, fulfilment,
   e-mails, the minute sweeps) are counted by a bench-only counter (bench/task_counting.py).
   Anchor of the same run: N tasks through the same cluster that make only the status call.
   Writing the requests (the web's work, in this process) is timed apart.
2. A 1,000-account order seen from outside: POST to the API (gunicorn, 2 workers), the cluster
   checks it, the client polls the API until every account is decided; compared with the
   sequential time (1,000 x 20 ms).

Targets (issue 12): >= 60 one-account requests/s; the 1,000-account order <= 0.10x sequential.
Run: `make bench-cluster` (needs PostgreSQL and Redis on 127.0.0.1; uses Redis db BENCH_REDIS_DB,
default 6, which it empties, and a throwaway database)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PG_ADMIN_URL, throwaway_database
from bench.servers import bench_env, gunicorn, qcluster

DATABASE = "bench_cluster"
LATENCY = 0.020
BIG = 1000
THROUGHPUT_TARGET = 60.0
RATIO_TARGET = 0.10


def _wait(condition, *, timeout: float, poll: float = 0.05) -> float:
    """Seconds until `condition()` is true (raises after `timeout`)."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the cluster did not finish in time")
        time.sleep(poll)
    return time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    """CPU (user + system) a process has used so far, from /proc (Linux); 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            parents.setdefault(parent, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        tree.append(current := todo.pop())
        todo += parents.get(current, [])
    return tree


class CpuMeter:
    """CPU used by the task cluster (every process of it) and by PostgreSQL for everyone but this
    process: contention from other work on the machine changes the time a run takes, hardly the
    CPU it costs."""

    def __init__(self, cluster_pid: int) -> None:
        self.cluster_pid = cluster_pid

    def read(self) -> tuple[float, dict[int, float]]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            backends = [pid for (pid,) in cursor.fetchall()]
        cluster = sum(_cpu_seconds(pid) for pid in _process_tree(self.cluster_pid))
        return cluster, {pid: _cpu_seconds(pid) for pid in backends}

    @staticmethod
    def spent(before: tuple[float, dict[int, float]], after: tuple[float, dict[int, float]]):
        """(cluster seconds, PostgreSQL seconds) between two readings."""
        database = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in after[1].items())
        return after[0] - before[0], database


def _throughput(requests_n: int, double, product, tag: str, meter: CpuMeter) -> Throughput:
    """Submit `requests_n` one-account requests at once; wait until every one is decided, its
    replacement delivered and every e-mail it causes has left (no row of these orders is still
    queued or being sent, and each request's acknowledgement is sent)."""
    from django.db import transaction
    from django.utils import timezone

    from bench.bench_decide_order import locked_profile, order_with_accounts
    from bench.task_counting import task_counts, task_counts_reset
    from compensation.models import AccountDecision, Notification, ReplacementBatch
    from compensation.services.submit import request_submit

    orders = []
    for i in range(requests_n):
        orders.append(
            order_with_accounts(
                order_ref=f"{tag}{i}", tag=f"{tag}{i}", count=1, product=product, now=timezone.now()
            )
        )
        double.set("instagram", f"{tag}{i}_0", locked_profile(f"{tag}{i}_0", f"{tag}{i}-0"))
    _stock(product, requests_n, f"{tag}stock")
    task_counts_reset()
    submitting = time.perf_counter()
    with transaction.atomic():  # every check queued at the commit, all at once
        for order in orders:
            request_submit(
                email=order.email,
                order_id=order.order_id,
                reason="bench",
                password_change_warning=False,
                skus=None,
                now=timezone.now(),
            )
        # The cluster's clock starts with the commit that hands it the work (writing the requests
        # in this process is the web's work, printed apart).
        started = time.perf_counter()
        cpu_before = meter.read()
    decisions = AccountDecision.objects.filter(request__order__order_id__startswith=tag)
    decided = time.perf_counter() - started
    decided += _wait(lambda: not decisions.filter(decision="pending").exists(), timeout=600)
    batches = ReplacementBatch.objects.filter(line__order__order_id__startswith=tag)
    mails = Notification.objects.filter(order__order_id__startswith=tag)
    try:
        _wait(
            lambda: (
                batches.filter(state="delivered").count() == requests_n
                and not mails.filter(state__in=["queued", "sending"]).exists()
                and mails.filter(kind="request_received", state="sent").count() == requests_n
            ),
            timeout=600,
        )
    except TimeoutError:
        print("batches:", _tally(batches, "state"), "e-mails:", _tally(mails, "kind", "state"))
        print("decisions:", _tally(decisions, "decision"))
        raise
    everything = time.perf_counter() - started
    cluster_cpu, database_cpu = meter.spent(cpu_before, meter.read())
    time.sleep(0.5)  # tasks still running (twins that find nothing to do) are counted too
    states: dict[str, int] = {}
    for state in mails.values_list("state", flat=True):
        states[state] = states.get(state, 0) + 1
    return Throughput(
        submitting=started - submitting,
        cluster_cpu=cluster_cpu,
        database_cpu=database_cpu,
        decided=decided,
        everything=everything,
        tasks=task_counts(),
        sent=states.get("sent", 0),
        other_mail_states={k: v for k, v in states.items() if k != "sent"},
    )


def _tally(rows, *fields: str) -> dict[tuple, int]:
    from django.db.models import Count

    return {
        tuple(row[f] for f in fields): row["n"]
        for row in rows.order_by().values(*fields).annotate(n=Count("id"))
    }


@dataclass(frozen=True)
class Throughput:
    submitting: float  # seconds this process took to write the requests (before the commit)
    cluster_cpu: float  # CPU seconds the task cluster used until everything was done
    database_cpu: float  # ... and PostgreSQL, for every connection but this process's
    decided: float  # seconds until every account was decided
    everything: float  # ... and delivered, and every e-mail sent
    tasks: dict[str, int]  # tasks the workers ran, by function
    sent: int  # e-mails sent to these requests' customers
    other_mail_states: dict[str, int]  # rows that were not sent (skipped updates, failures)


def _stock(product, count: int, tag: str) -> None:
    from inventory.crypto import Credentials, credentials_seal
    from inventory.models import Account

    sealed = credentials_seal(Credentials(password="x"))
    Account.objects.bulk_create(
        Account(
            product=product, platform="instagram", username=f"{tag}_{i}", credentials_sealed=sealed
        )
        for i in range(count)
    )


def _anchor(tasks_n: int, base_url: str) -> float:
    """Seconds for `tasks_n` status-call-only tasks through the same cluster (counted as they
    finish, the same way as the real tasks)."""
    from django_q.tasks import async_task

    from bench.task_counting import task_counts, task_counts_reset

    func = "bench.cluster_tasks.status_call_only"
    task_counts_reset()
    started = time.perf_counter()
    for i in range(tasks_n):
        async_task(func, base_url, f"T{i}_0")
    _wait(lambda: task_counts().get(func, 0) >= tasks_n, timeout=600)
    return time.perf_counter() - started


def _post_request(base: str, order) -> str:
    """POST a request for every line of the order through the API; its id."""
    body = json.dumps(
        {"email": order.email, "order_id": order.order_id, "reason": "All locked."}
    ).encode()
    post = urllib.request.Request(  # noqa: S310 - 127.0.0.1
        f"{base}/api/v1/compensation-requests",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(post, timeout=30) as response:  # noqa: S310
        return str(json.load(response)["id"])


def _view(base: str, request_id: str) -> dict:
    with urllib.request.urlopen(  # noqa: S310
        f"{base}/api/v1/compensation-requests/{request_id}", timeout=30
    ) as response:
        return json.load(response)


def _end_to_end(base: str, double, product) -> float:
    """POST a 1,000-account request, poll the API until no account is pending. The web workers
    have answered a few small requests first (a server that just started loads the code of each
    page on its first call: not what is measured here)."""
    from django.utils import timezone

    from bench.bench_decide_order import locked_profile, order_with_accounts

    for n in range(4):  # both web workers, each route at least once
        small = order_with_accounts(
            order_ref=f"EW{n}", tag=f"ew{n}", count=10, product=product, now=timezone.now()
        )
        for i in range(10):
            double.set("instagram", f"ew{n}_{i}", locked_profile(f"ew{n}_{i}", f"ew{n}-{i}"))
        _view(base, _post_request(base, small))
    order = order_with_accounts(
        order_ref="E1", tag="e", count=BIG, product=product, now=timezone.now()
    )
    for i in range(BIG):
        double.set("instagram", f"e_{i}", locked_profile(f"e_{i}", f"e-{i}"))
    started = time.perf_counter()
    request_id = _post_request(base, order)

    def decided() -> bool:
        view = _view(base, request_id)
        accounts = [a for line in view["lines"] for a in line["accounts"]]
        return len(accounts) == BIG and all(a["decision"] != "pending" for a in accounts)

    _wait(decided, timeout=600, poll=0.1)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    redis_db = os.environ.get("BENCH_REDIS_DB", "6")
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    os.environ["REDIS_URL"] = redis_url
    os.environ["BENCH_TASKS_REDIS_URL"] = redis_url
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with throwaway_database(DATABASE):
        from django.conf import settings
        from django.core.management import call_command

        from compensation.status.double import StatusDouble
        from inventory.models import Product

        # The minute sweeps of production (`setup_schedules`): what they do is counted too.
        call_command("setup_schedules", verbosity=0)
        product = Product.objects.create(sku="CL", name="Cluster bench", platform="instagram")
        with StatusDouble() as double:
            double.latency = LATENCY
            env = bench_env(
                DJANGO_SETTINGS_MODULE="bench.cluster_settings",
                BENCH_TASKS_REDIS_URL=redis_url,
                DATABASE_URL=f"{PG_ADMIN_URL}/{DATABASE}",
                REDIS_URL=redis_url,
                Q_WORKERS="2",
                STATUS_API_URL=double.url,
                EMAIL_URL="dummymail://",
                DEBUG="false",
            )
            settings.STATUS_API_URL = double.url
            with qcluster(env=env) as cluster, gunicorn(workers=2, env=env) as base:
                meter = CpuMeter(cluster.pid)
                _throughput(1, double, product, "W", meter)  # warm-up: the cluster is up
                result = _throughput(args.requests, double, product, "T", meter)
                anchor = _anchor(args.requests, double.url)
                e2e = _end_to_end(base, double, product)
    rate = args.requests / result.everything
    anchor_rate = args.requests / anchor
    tasks = sum(result.tasks.values())
    print(f"cluster: 2 workers, Redis broker, status double at {LATENCY * 1000:.0f} ms per call")
    print(
        f"  {args.requests} one-account requests: all decided after {result.decided:.2f} s; "
        f"decided, delivered and every e-mail sent after {result.everything:.2f} s "
        f"(from the commit that queued their checks; writing them took {result.submitting:.2f} s "
        "before it, in this process)"
    )
    print(
        f"  e-mails sent: {result.sent} (one per request, the acknowledgement, when each settles "
        "within its grace period)"
        + (f"; other rows: {result.other_mail_states}" if result.other_mail_states else "")
    )
    print(
        f"  tasks the workers ran: {tasks} ("
        + ", ".join(f"{k.rsplit('.', 1)[-1]} {v}" for k, v in sorted(result.tasks.items()))
        + ")"
    )
    print(
        f"  CPU per request: task cluster {1000 * result.cluster_cpu / args.requests:.1f} ms, "
        f"PostgreSQL {1000 * result.database_cpu / args.requests:.1f} ms (what other work on the "
        "machine hardly changes)"
    )
    print(
        f"  end to end: {rate:.1f} requests/s "
        f"(decided only: {args.requests / result.decided:.1f}/s)"
        f" — target >= {THROUGHPUT_TARGET:.0f}/s: "
        + ("met" if rate >= THROUGHPUT_TARGET else "NOT met")
    )
    print(
        f"  anchor, {args.requests} status-call-only tasks through the same cluster: "
        f"{anchor:.2f} s = {anchor_rate:.1f} tasks/s (requests/s is {rate / anchor_rate:.2f}x it)"
    )
    sequential = BIG * LATENCY
    ratio = e2e / sequential
    print(
        f"  1,000-account order end to end (POST, cluster, polling the API): {e2e:.2f} s = "
        f"{ratio:.3f}x sequential ({sequential:.0f} s) — target <= {RATIO_TARGET}: "
        f"{'met' if ratio <= RATIO_TARGET else 'NOT met'}"
    )
    mails_ok = result.sent >= args.requests  # every acknowledgement went out (waited for above)
    return 0 if rate >= THROUGHPUT_TARGET and ratio <= RATIO_TARGET and mails_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
