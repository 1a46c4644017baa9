"""E-mail under real faults: a real qcluster, a real SMTP server on 127.0.0.1 that stalls, drops
and refuses, SIGKILL in the middle of a send, database backends terminated after the server
accepted. Every e-mail ends delivered (a copy that had to be sent again carries the same
Message-ID) or failed and shown to staff; none is marked sent without reaching the server."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from compensation.models import Notification
from compensation.services.outbox import message_id_for, notifications_send_due
from inventory.models import Event
from tests.doubles.smtp_server import Accept, Drop, Received, Reply, SmtpDouble, Stall
from tests.faults.conftest import Figures
from tests.faults.data import request_with_notification
from tests.faults.processes import database_dsn, process_env, qcluster, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _env(smtp: SmtpDouble, **extra: str) -> dict[str, str]:
    return process_env(
        application_name="faults-worker",
        EMAIL_URL=f"smtp://{smtp.host}:{smtp.port}",
        **extra,
    )


def _state(notification: Notification) -> str:
    return Notification.objects.values_list("state", flat=True).get(pk=notification.pk)


def _copies(smtp: SmtpDouble, message_id: str) -> int:
    """Copies the server received in full (acknowledged or not)."""
    return sum(1 for m in [*smtp.accepted, *smtp.unacknowledged] if m.message_id == message_id)


def _sweep_after_stale() -> int:
    later = timezone.now() + timedelta(seconds=settings.EMAIL_SENDING_STALE_SECONDS + 1)
    return notifications_send_due(now=later)


@pytest.mark.timeout(240)
def test_a_cluster_killed_during_a_slow_smtp_greeting_loses_no_e_mail(
    smtp_double: SmtpDouble, queue_to_broker: None, fault_figures: Figures
) -> None:
    smtp_double.plan = [Stall(120)]
    env = _env(smtp_double, EMAIL_TIMEOUT="60")
    with qcluster(env) as cluster:
        notification = request_with_notification(1)
        reached = wait_until(
            lambda: smtp_double.sessions and _state(notification) == "sending", timeout=90
        )
        assert reached, "the worker never started the send"
        cluster.kill()  # SIGKILL while the server has not even greeted
    fault_figures.faults += 1
    fault_figures.emails_expected += 1
    assert _state(notification) == "sending"  # not marked sent: it never reached the server
    assert smtp_double.accepted == []

    with qcluster(env):
        assert _sweep_after_stale() == 1
        assert wait_until(lambda: _state(notification) == "sent", timeout=90)
    assert smtp_double.message_ids() == [message_id_for(notification)]
    fault_figures.emails_delivered += 1
    fault_figures.emails_duplicated += _copies(smtp_double, message_id_for(notification)) - 1
    assert fault_figures.emails_duplicated == 0


@pytest.mark.timeout(240)
def test_a_cluster_killed_after_the_server_accepted_sends_a_recognisable_copy(
    smtp_double: SmtpDouble, queue_to_broker: None, fault_figures: Figures
) -> None:
    """The one window SMTP leaves: the server accepted, the worker died before it could record
    that. The sweep sends it again with the same Message-ID (one message in the mail client)."""
    blocker = psycopg.connect(database_dsn())
    holding: list[int] = []

    def hold_the_row(message: Received) -> None:
        # The worker's "mark sent" will wait for this lock until the worker is killed.
        pk = int(message.message_id.split("-", 1)[1].split(".", 1)[0])
        blocker.execute("SELECT 1 FROM compensation_notification WHERE id = %s FOR UPDATE", [pk])
        holding.append(pk)

    smtp_double.before_accept = hold_the_row
    env = _env(smtp_double)
    try:
        with qcluster(env) as cluster:
            notification = request_with_notification(2)
            assert wait_until(lambda: holding and _mark_waits_for_lock(), timeout=90)
            cluster.kill()
        blocker.rollback()
    finally:
        blocker.close()
    # PostgreSQL ends the killed worker's backend (and its row lock) a moment later.
    assert wait_until(lambda: not _worker_backends(), timeout=30)
    smtp_double.before_accept = None
    fault_figures.faults += 1
    fault_figures.emails_expected += 1
    assert _state(notification) == "sending"
    assert smtp_double.message_ids() == [message_id_for(notification)]

    with qcluster(env):
        assert _sweep_after_stale() == 1
        assert wait_until(lambda: _state(notification) == "sent", timeout=90)
    message_id = message_id_for(notification)
    assert smtp_double.message_ids() == [message_id, message_id]
    fault_figures.emails_delivered += 1
    fault_figures.emails_duplicated += _copies(smtp_double, message_id) - 1
    fault_figures.notes.append("duplicate carries the same Message-ID (SIGKILL after the 250)")


def _worker_backends() -> int:
    with psycopg.connect(database_dsn(), autocommit=True) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'faults-worker'"
        ).fetchone()
    return int(row[0]) if row else 0


def _mark_waits_for_lock() -> bool:
    with psycopg.connect(database_dsn(), autocommit=True) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND application_name = 'faults-worker' AND query ILIKE '%%compensation_notification%%'"
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.timeout(240)
def test_a_database_backend_terminated_after_the_server_accepted_is_retried_once(
    smtp_double: SmtpDouble, queue_to_broker: None, fault_figures: Figures
) -> None:
    terminated: list[int] = []

    def terminate_worker_backends(message: Received) -> None:
        with psycopg.connect(database_dsn(), autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'faults-worker'"
            ).fetchall()
        terminated.append(sum(1 for (done,) in rows if done))

    smtp_double.before_accept = terminate_worker_backends
    with qcluster(_env(smtp_double)):
        notifications = [request_with_notification(10 + i) for i in range(3)]
        assert wait_until(lambda: all(_state(n) == "sent" for n in notifications), timeout=120), [
            (_state(n), n.pk) for n in notifications
        ]
    fault_figures.faults += len(terminated)
    fault_figures.emails_expected += 3
    ids = [message_id_for(n) for n in notifications]
    assert sorted(smtp_double.message_ids()) == sorted(ids)
    assert sum(terminated) >= 3  # each send lost its database connection at least once
    fault_figures.emails_delivered += len(set(smtp_double.message_ids()))
    fault_figures.emails_duplicated += smtp_double.duplicates()
    fault_figures.notes.append(f"{sum(terminated)} backends terminated after a 250")


@pytest.mark.timeout(300)
def test_stalls_drops_and_refusals_end_delivered_or_failed_and_shown(
    smtp_double: SmtpDouble, queue_to_broker: None, fault_figures: Figures, settings: Any
) -> None:
    faults: list[Any] = [
        Stall(3),
        Drop("greeting"),
        Reply(421, at="greeting"),
        Drop("mail"),
        Drop("data"),
        Reply(451),
        Reply(452, at="rcpt"),
        Drop("after_data"),
        Reply(554),
        Stall(3, then=Drop("data")),
    ]
    smtp_double.plan = list(faults)
    smtp_double.default = Accept()
    env = _env(smtp_double, EMAIL_TIMEOUT="1", EMAIL_RETRY_DELAYS="1,1,1,1")
    settings.EMAIL_RETRY_DELAYS = [1, 1, 1, 1]
    count = 12
    with qcluster(env):
        for i in range(count):
            request_with_notification(100 + i)

        def settled() -> bool:
            states = set(Notification.objects.values_list("state", flat=True))
            return states <= {"sent", "failed"}

        deadline = time.monotonic() + 200
        while not settled() and time.monotonic() < deadline:
            notifications_send_due(now=timezone.now())  # what the one-minute schedule does
            time.sleep(1.5)
        assert settled(), list(Notification.objects.values_list("state", "last_error"))

    rows = {n.pk: n for n in Notification.objects.all()}
    failed = [n for n in rows.values() if n.state == "failed"]
    sent = [n for n in rows.values() if n.state == "sent"]
    # The permanent refusal (554) fails; everything else is delivered in the end.
    assert len(failed) == 1 and failed[0].last_error.startswith("SMTP 554")
    assert len(sent) == count - 1
    shown = Event.objects.filter(kind="email_failed", request_id=failed[0].request_id)
    assert shown.count() == 1
    for notification in sent:
        assert _copies(smtp_double, message_id_for(notification)) >= 1
        assert message_id_for(notification) in smtp_double.message_ids()
    duplicated = sum(_copies(smtp_double, message_id_for(n)) - 1 for n in sent)
    # Only a message the server received but never acknowledged is sent twice.
    assert duplicated == len(smtp_double.unacknowledged) == 1
    assert not smtp_double.plan, "every planned fault was met"
    fault_figures.faults += len(faults)
    fault_figures.emails_expected += count
    fault_figures.emails_delivered += len(sent)
    fault_figures.emails_failed_shown += len(failed)
    fault_figures.emails_duplicated += duplicated
    fault_figures.notes.append("failed one: 554 permanent refusal (email_failed event on request)")
