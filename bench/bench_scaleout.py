"""Benchmark: the two-node burst of tests/test_scaleout_burst.py at a larger size, to see which
part saturates first. Two gunicorn servers (WEB_CONCURRENCY × WEB_THREADS each) and two task
clusters (Q_WORKERS each) on one throwaway PostgreSQL database and Redis dbs 2/3, the status
double answering after STATUS_LATENCY seconds.

Run: `make bench-scaleout` or `python bench/bench_scaleout.py --orders 300 --status-latency 0.02`
Prints the figures and the invariants (all must hold) as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PG_ADMIN_URL
from tests.burst import burst, invariants, prepare
from tests.prod_stack import redis_available, stack


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--status-latency", type=float, default=0.02)
    parser.add_argument("--web-threads", default="4")
    parser.add_argument("--q-workers", default="2")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--logs", help="keep the servers' logs in this folder")
    args = parser.parse_args()
    if not redis_available():
        print("needs Redis on 127.0.0.1:6379", file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory() as scratch,
        stack(
            Path(args.logs or scratch), PG_ADMIN_URL, f"bench_scaleout_{uuid.uuid4().hex[:8]}"
        ) as desk,
    ):
        desk.status.latency = args.status_latency
        desk.extra_env.update(WEB_THREADS=args.web_threads, Q_WORKERS=args.q_workers)
        plan = prepare(desk, Path(args.logs or scratch), orders=args.orders)
        webs = [desk.start_web("web-a"), desk.start_web("web-b")]
        desk.start_cluster("cluster-a")
        desk.start_cluster("cluster-b")
        figures = burst(desk, webs, plan, Path(args.logs or scratch), threads=args.clients)
        facts = invariants(desk, plan, figures)
        figures.pop("submissions_detail")
        figures.update(
            status_latency=args.status_latency,
            web_threads=args.web_threads,
            q_workers=args.q_workers,
            clients=args.clients,
        )
        print(json.dumps({"figures": figures, "invariants": facts}, indent=1, default=str))
        broken = (
            facts["accounts_approved_twice"]
            or facts["stock_handed_out_twice"]
            or facts["fifo_violations"]
            or facts["emails_written"] != facts["notifications"]
            or not facts["handed_out_matches_accounts"]
        )
        return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
