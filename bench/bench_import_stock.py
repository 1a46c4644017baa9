"""Benchmark (not a test): import 50,000 stock rows on PostgreSQL through the same service the
command and the admin use (`inventory.importing.stock_import`), encryption on.

    make bench-import          (or: .venv/bin/python bench/bench_import_stock.py --rows 50000)

It creates a throwaway database `bench_import` (bench/common.py: on the PostgreSQL server of
BENCH_PG_URL or DATABASE_URL, else 127.0.0.1:5432), migrates it, imports, re-imports (everything
skipped), prints rows/s and peak memory, and drops the database. Target: >= 5,000 rows/s.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import throwaway_database
from inventory.interactions import INTERACTION_KINDS

TARGET_ROWS_PER_S = 5000


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--database", default="bench_import")
    args = parser.parse_args()

    os.environ["DEBUG"] = "false"  # no query log growing in memory
    with throwaway_database(args.database):
        from django.utils import timezone

        from inventory.importing import stock_import
        from inventory.models import Account, Product

        Product.objects.create(sku="BENCH-IG", name="Bench product", platform="instagram")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "stock.csv"
            _write_csv(path, args.rows)
            size_mb = path.stat().st_size / 1024 / 1024
            rss_before = _rss_mb()

            started = time.perf_counter()
            with path.open("rb") as source:
                preview = stock_import(
                    source=source, filename=path.name, actor=None, now=timezone.now(), dry_run=True
                )
            dry = time.perf_counter() - started
            assert preview.ok and preview.created == args.rows

            started = time.perf_counter()
            with path.open("rb") as source:
                report = stock_import(
                    source=source, filename=path.name, actor=None, now=timezone.now()
                )
            first = time.perf_counter() - started
            rss_after = _rss_mb()

            started = time.perf_counter()
            with path.open("rb") as source:
                again = stock_import(
                    source=source, filename=path.name, actor=None, now=timezone.now()
                )
            second = time.perf_counter() - started

        assert report.ok, report.errors[:5]
        assert (report.created, again.created, again.skipped) == (args.rows, 0, args.rows)
        assert Account.objects.count() == args.rows
        rate = args.rows / first
        print(f"rows:              {args.rows} ({size_mb:.1f} MB CSV, every credential sealed)")
        verdict = "OK" if rate >= TARGET_ROWS_PER_S else "MISSED"
        print(f"preview (dry run): {dry:.2f} s  = {args.rows / dry:,.0f} rows/s (validation only)")
        print(
            f"import:            {first:.2f} s  = {rate:,.0f} rows/s "
            f"(validate + write; target >= {TARGET_ROWS_PER_S:,}: {verdict})"
        )
        print(
            f"re-import:         {second:.2f} s  = {args.rows / second:,.0f} rows/s (all skipped)"
        )
        print(
            f"peak RSS:          {rss_after:.0f} MB (before the import {rss_before:.0f} MB, "
            f"+{rss_after - rss_before:.0f} MB)"
        )
        return 0 if rate >= TARGET_ROWS_PER_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
