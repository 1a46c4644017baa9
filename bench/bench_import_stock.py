"""Benchmark (not a test): import stock rows on PostgreSQL through the same service the command
and the admin use (`inventory.importing.stock_import`), encryption on.

    make bench-import          (or: .venv/bin/python bench/bench_import_stock.py --rows 1000000)

It creates a throwaway database `bench_import` (bench/common.py: on the PostgreSQL server of
BENCH_PG_URL or DATABASE_URL, else 127.0.0.1:5432), migrates it, previews (dry run), imports
`--runs` times into an emptied accounts table (the median counts), re-imports (everything
skipped), and prints rows/s and the process's peak memory beside the anchors of the same run on
the same machine: Fernet alone (sealing the credentials, nothing else) and Fernet + COPY
(sealing and streaming finished rows into the accounts table, no validation), the latter
measured just before AND just after each import, because the machine is shared and its load
moves within a minute. It also prints the CPU time per row of this process and of its
PostgreSQL backend (read from /proc when the server is local), for the import and the anchor:
what the rows cost, whatever else the machine runs. Drops the database.

Targets (issue 12): >= 20,000 rows/s; 1,000,000 rows in <= 150 MB peak RSS (issue 2: 5,000).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ipaddress
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import throwaway_database
from inventory.interactions import INTERACTION_KINDS

if TYPE_CHECKING:
    from inventory.crypto import Credentials

TARGET_ROWS_PER_S = 20_000
TARGET_PEAK_MB = 150
ANCHOR_ROWS = 200_000


def _rss_mb() -> float:
    # ru_maxrss is the peak resident set size, in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _write_csv(path: Path, rows: int) -> None:
    header = [
        "sku",
        "username",
        "password",
        "user_id",
        "email",
        "email_password",
        "two_factor_secret",
        "followers",
        *INTERACTION_KINDS,
        "supplier",
        "notes",
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for n in range(rows):
            writer.writerow(
                [
                    "BENCH-IG",
                    f"bench_user_{n:07d}",
                    secrets.token_urlsafe(12),
                    str(10**9 + n),
                    f"bench_user_{n:07d}@mailbox.example",
                    secrets.token_urlsafe(10),
                    "JBSWY3DPEHPK3PXP",
                    n % 5000,
                    n % 7,
                    0,
                    n % 3,
                    n % 11,
                    n % 5,
                    0,
                    ("farm-north", "farm-south", "reseller-eu")[n % 3],
                    "bench row",
                ]
            )


@dataclass
class Run:
    """Wall time, CPU time of this process and of its PostgreSQL backend (None: not local)."""

    rows: int
    wall: float = 0.0
    python_cpu: float = 0.0
    db_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.wall


@contextlib.contextmanager
def _measured(run: Run) -> Iterator[None]:
    backend = _backend_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    yield
    run.wall = time.perf_counter() - started
    run.python_cpu = time.process_time() - cpu
    after = _backend_cpu()
    run.db_cpu = None if backend is None or after is None else after - backend


def _backend_cpu() -> float | None:
    """CPU seconds of this connection's PostgreSQL backend, when it runs on this machine."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), inet_server_addr()")
        pid, address = cursor.fetchone()
    if address is not None and not ipaddress.ip_address(address).is_loopback:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", default="bench_import")
    parser.add_argument("--runs", type=int, default=3, help="imports (median reported)")
    args = parser.parse_args()

    os.environ["DEBUG"] = "false"  # no query log growing in memory
    with throwaway_database(args.database):
        from django.utils import timezone

        from inventory.importing import stock_import
        from inventory.models import Account, Product

        product = Product.objects.create(sku="BENCH-IG", name="Bench product", platform="instagram")
        anchor_rows = min(args.rows, ANCHOR_ROWS)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "stock.csv"
            _write_csv(path, args.rows)
            size_mb = path.stat().st_size / 1024 / 1024

            dry = Run(args.rows)
            with _measured(dry), path.open("rb") as source:
                preview = stock_import(
                    source=source, filename=path.name, actor=None, now=timezone.now(), dry_run=True
                )
            assert preview.ok and preview.created == args.rows

            rss_before = _rss_mb()
            rounds: list[tuple[Run, Run, Run, float]] = []  # anchor, import, anchor, load
            for n in range(args.runs):
                if n:
                    _accounts_empty()
                load = os.getloadavg()[0]
                before = _anchor_fernet_copy(anchor_rows, f"before-{n}")
                first = Run(args.rows)
                with _measured(first), path.open("rb") as source:
                    report = stock_import(
                        source=source, filename=path.name, actor=None, now=timezone.now()
                    )
                assert report.ok and report.created == args.rows, report.errors[:5]
                rounds.append((before, first, _anchor_fernet_copy(anchor_rows, f"after-{n}"), load))
            rss_after = _rss_mb()

            again = Run(args.rows)
            with _measured(again), path.open("rb") as source:
                reimport = stock_import(
                    source=source, filename=path.name, actor=None, now=timezone.now()
                )

        assert (reimport.created, reimport.skipped) == (0, args.rows)
        assert Account.objects.filter(product=product).count() == args.rows
        fernet_only = _anchor_fernet(anchor_rows)
        rate = statistics.median(first.rate for _, first, _, _ in rounds)
        anchor = statistics.median((before.rate + after.rate) / 2 for before, _, after, _ in rounds)
        print(f"rows:              {args.rows:,} ({size_mb:.1f} MB CSV, every credential sealed)")
        print(f"preview (dry run): {dry.wall:.2f} s  = {dry.rate:,.0f} rows/s (validation only)")
        for n, (before, first, after, load) in enumerate(rounds, start=1):
            print(
                f"run {n}: import {first.wall:.2f} s = {first.rate:,.0f} rows/s; Fernet + COPY "
                f"anchor {before.rate:,.0f} just before, {after.rate:,.0f} just after "
                f"(load {load:.1f} on {os.cpu_count()} shared cores)"
            )
        print(
            f"import:            {rate:,.0f} rows/s, median of {len(rounds)} "
            f"(validate + write; {rate / anchor:.2f}x the Fernet + COPY anchor)"
        )
        print(f"re-import:         {again.wall:.2f} s  = {again.rate:,.0f} rows/s (all skipped)")
        print(
            f"anchor, Fernet + COPY: {anchor:,.0f} rows/s (median of each run's mean of before "
            f"and after; {anchor_rows:,} rows each)"
        )
        print(f"anchor, Fernet alone:  {fernet_only:,.0f} rows/s ({anchor_rows:,} rows)")
        print(f"CPU, import:           {_cpu_per_row([first for _, first, _, _ in rounds])}")
        print(
            "CPU, Fernet + COPY:    "
            + _cpu_per_row([run for before, _, after, _ in rounds for run in (before, after)])
        )
        print(
            f"peak RSS:          {rss_after:.0f} MB (before the imports {rss_before:.0f} MB, "
            f"+{rss_after - rss_before:.0f} MB)"
        )
        rate_ok = rate >= TARGET_ROWS_PER_S
        rss_ok = rss_after <= TARGET_PEAK_MB or args.rows < 1_000_000
        print(
            f"targets: >= {TARGET_ROWS_PER_S:,} rows/s: {'met' if rate_ok else 'NOT met'}; "
            f"<= {TARGET_PEAK_MB} MB peak for 1M rows: "
            + ("met" if rss_ok and args.rows >= 1_000_000 else "NOT met" if not rss_ok else "n/a")
        )
        return 0 if rate_ok and rss_ok else 1


def _cpu_per_row(runs: list[Run]) -> str:
    rows = sum(run.rows for run in runs)
    python = sum(run.python_cpu for run in runs) / rows * 1e6
    known = [run.db_cpu for run in runs if run.db_cpu is not None]
    db = "n/a" if len(known) < len(runs) else f"{sum(known) / rows * 1e6:.1f}"
    return f"Python {python:.1f} + PostgreSQL {db} us/row"


def _accounts_empty() -> None:
    """The next round imports into an empty accounts table, as the first did."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE inventory_account CASCADE")


def _anchor_rows(rows: int, tag: str) -> Iterator[Credentials]:
    from inventory.crypto import Credentials

    for n in range(rows):
        yield Credentials(
            password=secrets.token_urlsafe(12),
            email=f"{tag}_{n:07d}@mailbox.example",
            email_password=secrets.token_urlsafe(10),
            two_factor_secret="JBSWY3DPEHPK3PXP",
            notes="bench row",
        )


def _anchor_fernet(rows: int) -> float:
    """Rows/s of sealing the credentials and nothing else."""
    from inventory.crypto import credentials_seal

    started = time.perf_counter()
    for credentials in _anchor_rows(rows, "fernet"):
        credentials_seal(credentials)
    return rows / (time.perf_counter() - started)


def _anchor_fernet_copy(rows: int, tag: str) -> Run:
    """Sealing and streaming finished rows into the accounts table with COPY (no validation, no
    duplicate check): what an import cannot beat."""
    from django.db import connection, transaction
    from django.utils import timezone

    from inventory.crypto import credentials_seal
    from inventory.models import Product

    product = Product.objects.create(sku=f"ANCHOR-{tag}", name="Anchor", platform="x")
    now = timezone.now()
    run = Run(rows)
    with (
        _measured(run),
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY inventory_account (product_id, platform, username, platform_user_id, "
            "credentials_sealed, supplier, baseline_followers, state, delivery_kind, created_at) "
            "FROM STDIN"
        ) as copy,
    ):
        for n, credentials in enumerate(_anchor_rows(rows, tag)):
            copy.write_row(
                (
                    product.pk,
                    "x",
                    f"{tag}_{n:07d}",
                    str(10**9 + n),
                    credentials_seal(credentials),
                    "farm-north",
                    n % 5000,
                    "in_stock",
                    "",
                    now,
                )
            )
    return run


if __name__ == "__main__":
    raise SystemExit(main())
