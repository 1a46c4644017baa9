"""The scale benchmark's harness (bench/scale_data.py, bench/scale_pages.py) at tiny sizes: the
dataset has the promised shape and every admin page it visits answers. The full-size run is
`make bench-scale`."""

from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bench.scale_data import (
    BIG_ACCOUNTS,
    BIG_APPROVED,
    SMALL_REQUEST_DECISIONS,
    Dataset,
    Sizes,
    dataset_build,
)
from bench.scale_pages import PAGES, QUERY_LIMIT, PageResult, count_problems, pages_measure
from compensation.models import AccountDecision, ReplacementBatch
from inventory.models import Account

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


class _Undo(Exception):
    pass


def _build_measure_undo(scale: float, now: datetime) -> tuple[Dataset, list[PageResult]]:
    """Build, measure (no timing), then roll everything back so the next size starts empty."""
    measured: list[tuple[Dataset, list[PageResult]]] = []
    with contextlib.suppress(_Undo), transaction.atomic():
        dataset = dataset_build(scale=scale, now=now)
        measured.append((dataset, pages_measure(dataset=dataset, now=now, repeat=0)))
        raise _Undo
    return measured[0]


def test_sizes_at_scale_one_are_the_issues_shop() -> None:
    s = Sizes.at(1.0)
    assert (s.orders, s.lines, s.requests, s.decisions) == (100_000, 150_000, 50_000, 76_000)
    assert (s.in_stock, s.sold_accounts, s.events) == (300_000, 130_000, 434_000)


def test_dataset_has_the_promised_shape() -> None:
    now = timezone.now()
    s = Sizes.at(0.002)
    dataset = dataset_build(scale=0.002, now=now)
    c = dataset.counts
    delivered_batches = ReplacementBatch.objects.filter(state="delivered").count()
    assert c["orders"] == s.orders + 1
    assert c["lines"] == s.lines + 1
    assert c["in stock"] == s.in_stock
    assert c["accounts"] == s.sold_accounts + BIG_ACCOUNTS + delivered_batches + s.in_stock
    assert c["requests"] == s.requests + 2
    assert c["decisions"] == s.decisions + SMALL_REQUEST_DECISIONS + BIG_ACCOUNTS
    approved = AccountDecision.objects.filter(decision="approved").count()
    # One batch per approved decision, and one for the 1,000-account order's approvals.
    assert c["batches"] == approved - BIG_APPROVED + 1
    assert c["events"] >= s.events
    assert c["waiting for a person"] > 300
    # One replacement account per delivered batch, on the batch's line.
    replacements = Account.objects.filter(delivery_kind="compensation")
    assert replacements.count() == delivered_batches > 0
    assert not replacements.exclude(line_id=F("replacement_batch__line_id")).exists()
    assert dataset.ids["request_1000"] != dataset.ids["request_10"]
    assert (
        AccountDecision.objects.filter(request_id=dataset.ids["request_1000"]).count()
        == BIG_ACCOUNTS
    )


def test_every_admin_page_answers_with_queries_independent_of_the_data_size() -> None:
    now = timezone.now()
    small, small_results = _build_measure_undo(0.001, now)
    larger, larger_results = _build_measure_undo(0.004, now)
    assert larger.counts["orders"] >= 3 * small.counts["orders"]
    assert [r.name for r in small_results] == [p.name for p in PAGES]
    assert [r.name for r in larger_results] == [p.name for p in PAGES]
    assert all(r.queries >= 2 and r.html_kb > 1 for r in small_results + larger_results)
    # The benchmark's own verdict: no page over the limit, none that differs between the sizes
    # (including the request page with 10 and with 1,000 decisions).
    problems = count_problems(larger_results, small_results)
    assert problems == [], "\n".join(problems)
    assert max(r.queries for r in larger_results) <= QUERY_LIMIT


def test_count_problems_reports_growing_and_excessive_pages() -> None:
    """The check itself can fail: a page over the limit, or one that changed with the data."""
    page = PageResult(name="orders list", url="/x", median_ms=1.0, queries=26, html_kb=1.0)
    same = PageResult(name="orders list", url="/x", median_ms=1.0, queries=26, html_kb=1.0)
    grown = PageResult(name="orders list", url="/x", median_ms=1.0, queries=9, html_kb=1.0)
    assert count_problems([page], [same]) == ["orders list: 26 queries (limit 25)"]
    assert count_problems([grown], [page]) == ["orders list: 9 queries here, 26 at the other size"]
