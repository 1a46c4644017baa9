"""with_connection_retry: a dropped connection is retried once on a fresh one, then 503."""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection

from compensation.db_retry import DatabaseUnavailable, with_connection_retry
from orders.models import Order


def test_a_single_failure_is_retried_once() -> None:
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return "done"

    assert with_connection_retry(work) == "done"
    assert len(calls) == 2


def test_two_failures_raise_database_unavailable() -> None:
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(DatabaseUnavailable):
        with_connection_retry(work)
    assert len(calls) == 2


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        raise ValueError("a bug, not the network")

    with pytest.raises(ValueError):
        with_connection_retry(work)
    assert calls == [1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_terminated_backend_is_replaced_by_a_fresh_connection() -> None:
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    settings_dict = connection.settings_dict
    dsn = (
        f"postgresql://{settings_dict['USER']}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT']}/{settings_dict['NAME']}"
    )
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    assert with_connection_retry(lambda: Order.objects.count()) == 0
    assert connection.connection.info.backend_pid != pid
