"""Benchmark (issue 12): every admin page staff use, on a shop-sized database.

Builds the dataset of `bench/scale_data.py` twice in throwaway PostgreSQL databases, a small one
(`--compare-scale`, query counts only matter there) and the real one (`--scale`, 1.0 = the
issue's size: 100k orders, 451k accounts, 76k decisions, 434k events…), then prints for every
page the median of `--repeat` runs, the number of queries and the size of the HTML.

Exits non-zero (loudly) when a page needs more than 25 queries or a different number of queries
at the two sizes. Times are printed beside the anchor measured in the same run (the smallest
admin page there is), because the machine is shared and every absolute figure is noisy.

Run: `make bench-scale` (scale 1.0, a few minutes) or `python bench/bench_scale.py --scale 0.1`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import throwaway_database


def _build_and_measure(name: str, scale: float, repeat: int, log: bool) -> tuple[object, list]:
    from django.utils import timezone

    from bench.scale_data import dataset_build
    from bench.scale_pages import pages_measure

    with throwaway_database(name):
        now = timezone.now()
        print(f"building the dataset at scale {scale} …", flush=True)
        dataset = dataset_build(scale=scale, now=now, log=log)
        from django.db import connection

        with connection.cursor() as cursor:  # a live database is vacuumed by autovacuum
            cursor.execute("VACUUM ANALYZE")
        print(
            f"  built in {dataset.seconds:.1f} s: "
            + ", ".join(f"{v:,} {k}" for k, v in dataset.counts.items()),
            flush=True,
        )
        print(f"  {'page':<40} {'median':>12} {'queries':>8} {'HTML':>12}", flush=True)
        results = pages_measure(dataset=dataset, now=now, repeat=repeat, log=True)
    return dataset, results


def main(argv: list[str] | None = None) -> int:
    from bench.scale_pages import (
        ANCHOR,
        BIG_REQUEST_LIMIT_MS,
        BIG_REQUEST_RATIO,
        QUERY_LIMIT,
        REQUEST_10,
        REQUEST_1000,
        TIME_LIMIT_MS,
        count_problems,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--compare-scale", type=float, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    compare = args.compare_scale or max(0.002, args.scale / 20)
    started = time.perf_counter()

    _, small = _build_and_measure("bench_scale_small", compare, 1, log=False)
    _, results = _build_and_measure("bench_scale", args.scale, args.repeat, log=True)

    by_name = {r.name: r for r in results}
    anchor = by_name[ANCHOR].median_ms
    slow = [r for r in results if r.median_ms > TIME_LIMIT_MS and r.name != REQUEST_1000]
    r10, r1000 = by_name[REQUEST_10], by_name[REQUEST_1000]
    ratio = r1000.median_ms / r10.median_ms
    problems = count_problems(results, small)

    print()
    print(f"scale {args.scale} (query counts compared with scale {compare})")
    print(f"  anchor, {ANCHOR}: {anchor:.1f} ms")
    worst = max(results, key=lambda r: r.median_ms)
    print(
        f"  slowest page: {worst.name} {worst.median_ms:.1f} ms "
        f"({worst.median_ms / anchor:.1f}x the anchor); most queries: "
        f"{max(r.queries for r in results)}"
    )
    print(
        f"  pages over {TIME_LIMIT_MS:.0f} ms (besides the 1,000-decision request page, held "
        f"to its own {BIG_REQUEST_LIMIT_MS:.0f} ms below): {len(slow)}"
        + (" — " + ", ".join(f"{r.name} {r.median_ms:.0f} ms" for r in slow) if slow else "")
    )
    print(
        f"  request page: 1,000 decisions {r1000.median_ms:.1f} ms / {r1000.queries} q, "
        f"10 decisions {r10.median_ms:.1f} ms / {r10.queries} q, ratio {ratio:.1f}x "
        f"(target <= {BIG_REQUEST_LIMIT_MS:.0f} ms, <= {QUERY_LIMIT} q, "
        f"<= {BIG_REQUEST_RATIO:.0f}x)"
    )
    times_ok = not slow and r1000.median_ms <= BIG_REQUEST_LIMIT_MS and ratio <= BIG_REQUEST_RATIO
    print(f"  time targets: {'met' if times_ok else 'NOT met'}")
    print(f"  total run: {time.perf_counter() - started:.0f} s")
    if problems:
        print("\nQUERY COUNT FAILURES (a page's queries must not depend on the data):")
        for problem in problems:
            print("  FAIL", problem)
        return 1
    print(f"  query counts: every page <= {QUERY_LIMIT} and the same at both sizes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
