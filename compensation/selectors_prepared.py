"""The facts of one request's customer view in one statement, prepared once per connection.

The API GET and the result page are polled every few seconds while checks run. Built with the
ORM, one read was three queries (the request, its decisions with five joined tables, the queue
places of waiting batches): compiling them in Python and planning the eight-table join in
PostgreSQL cost several times more than running it. Here the same facts come from one statement
that PostgreSQL planned once for the connection (`PREPARE`), executed with the request's id.

Used only where it pays and is safe (`usable()`): on PostgreSQL, outside a transaction (a failed
`EXECUTE` must not abort the caller's work), on a connection that outlives the request
(`DATABASE_CONN_MAX_AGE` > 0; with 0, as behind pgbouncer's transaction pooling, every request
would prepare it again). A statement discarded under us (`DEALLOCATE ALL`, a pooler, a schema
change that altered its result) is replaced by the plain query for that read and prepared again
by the next.

`compensation.selectors.request_view` turns the rows into the same view the ORM path builds;
tests compare the two for every account state.
"""

from __future__ import annotations

import json
import uuid
import weakref
from datetime import datetime
from typing import Any, NamedTuple

from django.db import InterfaceError, OperationalError, ProgrammingError, connection
from django.db.utils import NotSupportedError

from compensation.customer_states import CUSTOMER_EVIDENCE_KEYS
from compensation.models import (
    AccountDecision,
    CompensationRequest,
    LineClaim,
    ReplacementBatch,
)
from compensation.selectors_facts import queue_place_sql
from inventory.models import Account, Product
from orders.models import Order, OrderLine

STATEMENT = "compensation_request_view_v1"

# SQLSTATEs after which the statement is prepared again: invalid_sql_statement_name (discarded),
# feature_not_supported ("cached plan must not change result type" after a migration).
_PREPARE_AGAIN = frozenset({"26000", "0A000"})
_DUPLICATE_PREPARED = "42P05"

# psycopg connections this process prepared the statement on (gone with the connection).
_prepared_on: weakref.WeakSet[Any] = weakref.WeakSet()


class Head(NamedTuple):
    order_id: str
    status: str
    received_at: datetime


class Row(NamedTuple):
    """One account of the request, with its line, batch and the facts its sentence needs."""

    decision_id: int
    account_id: int
    username: str
    decision: str
    rule: str
    reviewed: bool
    customer_message: str
    evidence: dict[str, Any]  # only CUSTOMER_EVIDENCE_KEYS
    next_check_at: datetime | None
    claim_id: int
    line_id: int
    refusal: str
    refusal_detail: dict[str, Any] | None  # only for already_compensated claims
    sku: str
    product_name: str
    batch_id: int | None
    batch_state: str | None
    batch_approved_at: datetime | None
    batch_delivered_at: datetime | None
    batch_short_since: datetime | None
    queue_position: int | None  # waiting batches only: 1 = next for the product


def usable() -> bool:
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and connection.settings_dict.get("CONN_MAX_AGE") != 0
    )


def _select(parameter: str) -> str:
    """The statement's query, the request's id as `parameter` ($1 prepared, %s bound at once)."""
    t = {
        name: model._meta.db_table
        for name, model in {
            "request": CompensationRequest,
            "order": Order,
            "decision": AccountDecision,
            "claim": LineClaim,
            "line": OrderLine,
            "product": Product,
            "account": Account,
            "batch": ReplacementBatch,
        }.items()
    }
    keys = ", ".join(f"'{key}'" for key in CUSTOMER_EVIDENCE_KEYS)
    waiting = ReplacementBatch.State.WAITING.value
    compensated = LineClaim.Refusal.ALREADY_COMPENSATED.value
    return f"""
        SELECT o.order_id, r.status, r.received_at,
               d.id, d.account_id, a.username, d.decision, d.rule, d.reviewed,
               d.customer_message,
               (SELECT jsonb_object_agg(e.key, e.value)
                  FROM jsonb_each(CASE WHEN jsonb_typeof(d.evidence) = 'object'
                                       THEN d.evidence END) e
                 WHERE e.key IN ({keys})),
               d.next_check_at, d.claim_id, c.line_id, c.refusal,
               CASE WHEN c.refusal = '{compensated}' THEN c.refusal_detail END,
               p.sku, p.name,
               b.id, b.state, b.approved_at, b.delivered_at, b.unavailable_notified_at,
               CASE WHEN b.state = '{waiting}' THEN {queue_place_sql("b")} END
          FROM {t["request"]} r
          JOIN {t["order"]} o ON o.id = r.order_id
          LEFT JOIN ({t["decision"]} d
                     JOIN {t["claim"]} c ON c.id = d.claim_id
                     JOIN {t["line"]} l ON l.id = c.line_id
                     JOIN {t["product"]} p ON p.id = l.product_id
                     JOIN {t["account"]} a ON a.id = d.account_id
                     LEFT JOIN {t["batch"]} b ON b.id = d.batch_id)
                 ON d.request_id = r.id
         WHERE r.id = {parameter}
         ORDER BY c.line_id, d.account_id
    """  # noqa: S608 - table names and constants from the models; the one value a parameter


def _sqlstate(exc: Exception) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


def _prepare(cursor: Any) -> None:
    try:
        cursor.execute(f"PREPARE {STATEMENT} (uuid) AS {_select('$1')}")
    except ProgrammingError as exc:  # already there on this session (a pooler's server side)
        if _sqlstate(exc) != _DUPLICATE_PREPARED:
            raise
    _prepared_on.add(connection.connection)


def request_rows(request_id: uuid.UUID) -> tuple[Head, list[Row]] | None:
    """The request's head and one row per account (by line, then account); None if unknown.

    The statement is its own connection health check: Django's (`CONN_HEALTH_CHECKS`) would cost
    a `SELECT 1` round trip before it on every poll. On a connection that died since its last
    request the statement fails, and runs once more on a new connection (a read: safe to repeat).
    """
    db: Any = connection  # django-stubs lacks the health-check attributes
    if db.connection is None or db.health_check_done or not db.health_check_enabled:
        return _rows(request_id)
    db.health_check_done = True  # checked by the statement below
    try:
        return _rows(request_id)
    except (OperationalError, InterfaceError):
        connection.close()  # dead since its last use: a new connection, once
        return _rows(request_id)


def _rows(request_id: uuid.UUID) -> tuple[Head, list[Row]] | None:
    connection.ensure_connection()
    with connection.cursor() as cursor:
        if connection.connection not in _prepared_on:
            _prepare(cursor)
        try:
            cursor.execute(f"EXECUTE {STATEMENT} (%s)", [request_id])
        except (ProgrammingError, NotSupportedError) as exc:
            if _sqlstate(exc) not in _PREPARE_AGAIN:
                raise
            # This read runs the query unprepared (one round trip, on whatever session a pooler
            # gives it); the next one prepares the statement again.
            _prepared_on.discard(connection.connection)
            if _sqlstate(exc) == "0A000":  # still there, with a plan of the old schema
                cursor.execute(f"DEALLOCATE {STATEMENT}")
            cursor.execute(_select("%s"), [request_id])
        fetched = cursor.fetchall()
    if not fetched:
        return None
    head = Head(*fetched[0][:3])
    rows = [
        Row._make((*row[3:10], _json(row[10]) or {}, *row[11:15], _json(row[15]), *row[16:]))
        for row in fetched
        if row[3] is not None  # a request without accounts: its head only
    ]
    return head, rows


def _json(value: str | None) -> Any:
    """Django has psycopg load jsonb as text (JSONField decodes it); these columns are raw."""
    return None if value is None else json.loads(value)
