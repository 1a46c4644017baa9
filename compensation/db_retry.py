"""One retry when the database connection dropped under a request (a restarted or failed-over
PostgreSQL, a backend terminated by an administrator): the work is done again on a fresh
connection; if that fails too the caller answers 503 with Retry-After instead of a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds a client is asked to wait after the database could not be reached twice.
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(Exception):
    """The work failed on a dropped connection twice: answer 503 with Retry-After."""


def with_connection_retry(work: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS) -> T:
    """Run `work`; if the connection drops, close it and run `work` once more.

    Only outside a transaction: inside one, the caller's earlier writes died with the connection
    and cannot be replayed here. `work` must be safe to run twice (the submission is: a second
    run finds the request the first one committed and returns it).
    """
    connection = connections[using]
    if connection.in_atomic_block:
        return work()
    for attempt in (1, 2):
        try:
            return work()
        except (OperationalError, InterfaceError) as exc:
            connection.close()  # a fresh connection for the retry (or the next request)
            if attempt == 2:
                log.warning("database unavailable twice, answering 503: %s", type(exc).__name__)
                raise DatabaseUnavailable from exc
            log.warning("database connection dropped, retrying once: %s", type(exc).__name__)
    raise AssertionError("unreachable")  # pragma: no cover
