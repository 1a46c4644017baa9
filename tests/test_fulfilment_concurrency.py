"""Fulfilment under real concurrency (PostgreSQL): drains, stock arriving and approvals at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.db.models import Count
from django.utils import timezone

from compensation.models import AccountDecision, Notification, ReplacementBatch
from compensation.services.approval import decisions_approve
from compensation.services.fulfilment import batches_fulfil, batches_sweep
from inventory.crypto import Credentials, credentials_seal
from inventory.models import Account
from inventory.services import stock_arrival_announce

from .factories.compensation import review_cases, waiting_batch
from .factories.inventory import make_accounts, make_product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_together(workers: list[Callable[[], object]]) -> list[BaseException]:
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], object]) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_drains_imports_and_approvals_at_once_never_share_or_overpay() -> None:
    products = [make_product(), make_product()]
    sealed = credentials_seal(Credentials(password="pw"))
    for product in products:
        make_accounts(5, product=product)
        for quantity in (3, 1, 4, 2, 2, 1):
            waiting_batch(product=product, quantity=quantity)
    # Cases waiting for a person, approved by staff while everything else runs.
    cases = [review_cases(2, product=products[i % 2]) for i in range(6)]
    created_before = Account.objects.count()
    added: list[int] = []

    def drainer() -> None:
        for _ in range(6):
            for product in products:
                batches_fulfil(product_id=product.id, now=timezone.now())

    def importer(tag: str) -> Callable[[], None]:
        def work() -> None:
            for round_ in range(5):
                with transaction.atomic():
                    made = Account.objects.bulk_create(
                        Account(
                            product=p,
                            platform=p.platform,
                            credentials_sealed=sealed,
                            username=f"{tag}_{round_}_{p.id}_{i}",
                        )
                        for p in products
                        for i in range(3)
                    )
                    stock_arrival_announce(product_ids=[p.id for p in products])
                added.append(len(made))

        return work

    def approver(groups: list[list[AccountDecision]]) -> Callable[[], None]:
        def work() -> None:
            for group in groups:
                decisions_approve(
                    decision_ids=[d.id for d in group], actor=None, now=timezone.now()
                )

        return work

    errors = _run_together(
        [
            drainer,
            drainer,
            drainer,
            importer("a"),
            importer("b"),
            approver(cases[:3]),
            approver(cases[3:]),
        ]
    )
    assert errors == []
    batches_sweep(now=timezone.now())  # SKIP LOCKED may have left some for the sweep

    # Stock conservation: in stock + delivered + retired = everything ever created.
    assert sum(added) == 2 * 5 * 3 * 2
    counts = dict(Account.objects.values_list("state").annotate(n=Count("id")))
    assert sum(counts.values()) == created_before + sum(added)
    assert set(counts) <= {"in_stock", "delivered", "retired"}
    # Every batch: delivered <=> exactly its quantity, on its own line and product; else none.
    batches = list(ReplacementBatch.objects.order_by("approved_at", "id"))
    assert len(batches) == 2 * 6 + 6
    for batch in batches:
        given = list(
            Account.objects.filter(replacement_batch=batch).values_list(
                "line_id", "product_id", "state", "delivery_kind"
            )
        )
        if batch.state == "delivered":
            assert given == [(batch.line_id, batch.product_id, "delivered", "compensation")] * (
                batch.quantity
            )
        else:
            assert given == []
    # Every delivered account is on exactly one line (the FK) and compensation only via a batch.
    assert not Account.objects.filter(
        delivery_kind="compensation", replacement_batch__isnull=True
    ).exists()
    # After the sweep nothing that fits is left waiting: the head of each queue is too big.
    for product in products:
        head = (
            ReplacementBatch.objects.filter(product=product, state="waiting")
            .order_by("approved_at", "id")
            .first()
        )
        free = Account.objects.filter(product=product, state="in_stock").count()
        assert head is None or head.quantity > free
    assert ReplacementBatch.objects.filter(state="delivered").count() >= 1


def test_the_same_drain_delivered_twice_at_once_pays_each_batch_once() -> None:
    product = make_product()
    make_accounts(12, product=product)
    batches = [waiting_batch(product=product, quantity=q) for q in (2, 3, 1, 4)]

    errors = _run_together(
        [lambda: batches_fulfil(product_id=product.id, now=timezone.now()) for _ in range(6)]
    )

    assert errors == []
    for batch in batches:
        batch.refresh_from_db()
        assert batch.state == "delivered"
        assert Account.objects.filter(replacement_batch=batch).count() == batch.quantity
    assert Account.objects.filter(state="in_stock").count() == 2


def test_a_task_cluster_killed_in_the_middle_of_a_drain_loses_nothing() -> None:
    """A real `qcluster` drains a product; it is blocked after it has claimed and marked the
    stock (on the customer's update e-mail row, held by an uncommitted twin) and SIGKILLed.
    PostgreSQL rolls its transaction back: nothing is lost, and the sweep then serves all."""

    product = make_product()
    make_accounts(5, product=product)
    first = waiting_batch(product=product, quantity=2)
    second = waiting_batch(product=product, quantity=3)
    # The first request was acknowledged: its delivery schedules an update e-mail row.
    Notification.objects.create(
        key=f"request_received:{first.request_id}",
        kind="request_received",
        to="x@example.com",
        request_id=first.request_id,
        state=Notification.State.SENT,
        sent_at=timezone.now(),
    )
    settings_dict = connection.settings_dict
    dsn = (
        f"postgresql://{settings_dict['USER']}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT']}/{settings_dict['NAME']}"
    )
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DATABASE_URL": dsn.replace("postgresql://", "postgres://"),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "Q_SYNC": "false",
        "Q_WORKERS": "1",
        "LOG_LEVEL": "WARNING",
    }

    with psycopg.connect(dsn) as blocker:
        # An uncommitted twin of the e-mail row the drain writes after marking the stock.
        blocker.execute(
            'INSERT INTO compensation_notification (key, kind, "to", created_at, request_id) '
            "VALUES (%s, 'request_update', 'x@example.com', now(), %s)",
            [f"request_update:{first.request_id}:twin", first.request_id],
        )
        subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-c",
                "import django; django.setup(); "
                "from django_q.tasks import async_task; "
                f"async_task('compensation.tasks.fulfil_product', {product.id})",
            ],
            cwd=root,
            env=env,
            check=True,
            timeout=60,
        )
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=root,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            waiting = 0
            while time.monotonic() < deadline and not waiting:
                time.sleep(0.2)
                with psycopg.connect(dsn, autocommit=True) as probe:
                    row = probe.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query ILIKE '%%compensation_notification%%' AND pid <> %s",
                        [blocker.info.backend_pid],
                    ).fetchone()
                    waiting = row[0] if row else 0
            assert waiting == 1, "the drain never reached the notification insert"
            # Mid-drain: the accounts are marked inside the worker's open transaction.
        finally:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=30)
        blocker.rollback()

    time.sleep(0.5)  # PostgreSQL notices the dropped connections and aborts their transaction
    assert set(ReplacementBatch.objects.values_list("state", flat=True)) == {"waiting"}
    assert Account.objects.filter(product=product, state="in_stock").count() == 5
    assert not Account.objects.filter(replacement_batch__isnull=False).exists()

    assert batches_sweep(now=timezone.now()) == 2
    for batch in (first, second):
        batch.refresh_from_db()
        assert batch.state == "delivered"
        assert Account.objects.filter(replacement_batch=batch).count() == batch.quantity
