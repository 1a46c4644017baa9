"""Two web servers and two task clusters on one PostgreSQL database and one Redis (broker and
cache) keep every invariant under a burst (tests/burst.py): no account replaced twice, no stock
account handed out twice, every e-mail sent exactly once, first come first served per product.
`bench/bench_scaleout.py` runs larger bursts on the same stack and prints the figures."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from .burst import burst, invariants, prepare
from .prod_stack import pg_server_url, redis_available, stack

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(900)]

ORDERS = 60


@pytest.fixture
def running(tmp_path: Path) -> Any:
    if not redis_available():
        if os.environ.get("CI"):
            pytest.fail("CI must run the scale-out test: Redis does not answer")
        pytest.skip("needs Redis on 127.0.0.1:6379")
    db = settings.DATABASES["default"]
    with stack(tmp_path, pg_server_url(db), f"{db['NAME']}_burst") as desk:
        yield desk


def test_two_web_nodes_and_two_clusters_keep_every_invariant_under_a_burst(
    running: Any, tmp_path: Path
) -> None:
    desk = running
    plan = prepare(desk, tmp_path, orders=ORDERS)
    webs = [desk.start_web("web-a"), desk.start_web("web-b")]
    desk.start_cluster("cluster-a")
    desk.start_cluster("cluster-b")

    figures = burst(desk, webs, plan, tmp_path)
    facts = invariants(desk, plan, figures)
    detail = figures.pop("submissions_detail")
    print("\nscale-out burst figures:", json.dumps(figures, sort_keys=True))
    print("invariants:", json.dumps(facts, sort_keys=True, default=str))

    owed = facts["expected_accounts"]
    assert facts["accounts_approved_twice"] == []
    assert facts["approved_accounts"] == owed
    assert facts["lines_with_two_batches"] == []
    assert facts["batches_not_paid_exactly"] == []
    assert facts["replacement_accounts"] == owed
    assert facts["stock_handed_out_twice"] == []
    assert facts["handed_out_matches_accounts"] is True
    assert facts["fifo_violations"] == []
    assert facts["scarce_batches_that_waited"] > 0  # the FIFO check had a queue to judge
    assert facts["requests_in_progress"] == 0
    assert facts["emails_written"] == facts["notifications"]
    assert facts["emails_per_recipient_match"] is True
    assert facts["duplicate_message_ids"] == []
    assert facts["bad_statuses"] == {}
    assert facts["twin_requests_that_used_a_line"] == []
    # Each order's twin submission either joined the request in progress (200) or came after
    # it was decided (a new request, 202, refused as already compensated): one 202 per order.
    by_order: dict[str, list[int]] = {}
    for submission in detail:
        by_order.setdefault(submission.order_id, []).append(submission.status)
    assert all(202 in statuses for statuses in by_order.values())
