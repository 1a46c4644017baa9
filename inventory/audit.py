"""The one writer of the audit trail (`inventory.Event`), shared by every app.

Services do not build `Event` rows themselves: each app's `events.py` has one small function per
kind it records (`inventory/events.py`, `orders/events.py`, `compensation/events.py`), and those
call `event_record` (one row) or `events_record_many` (set-based services). Call them inside the
transaction of the change they record.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection

from .models import Event

Actor = AbstractBaseUser | AnonymousUser | None


def actor_pk(actor: Actor) -> int | None:
    """The user id to record, or None for the system and anonymous customers."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return actor.pk


def event_new(
    *,
    kind: str,
    at: datetime,
    actor: Actor = None,
    order_id: int | None = None,
    account_id: int | None = None,
    request_id: uuid.UUID | None = None,
    batch_id: int | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
) -> Event:
    """An unsaved event (for `events_record_many`)."""
    return Event(
        at=at,
        actor_id=actor_pk(actor),
        kind=kind,
        order_id=order_id,
        account_id=account_id,
        request_id=request_id,
        batch_id=batch_id,
        message=message,
        data=data or {},
    )


def event_record(
    *,
    kind: str,
    at: datetime,
    actor: Actor = None,
    order_id: int | None = None,
    account_id: int | None = None,
    request_id: uuid.UUID | None = None,
    batch_id: int | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
) -> Event:
    """Write one event."""
    event = event_new(
        kind=kind,
        at=at,
        actor=actor,
        order_id=order_id,
        account_id=account_id,
        request_id=request_id,
        batch_id=batch_id,
        message=message,
        data=data,
    )
    event.save(force_insert=True)
    return event


# Below this many rows the ORM's insert is as quick; above it, the JSON path avoids quoting every
# value of every column in Python (1,000 delivered batches: a fifth of a drain's time).
_JSON_INSERT_FROM = 50
_JSON_CHUNK = 5000


def events_record_many(events: Iterable[Event]) -> list[Event]:
    """Write many events (built with `event_new`) in set-based inserts; their ids are set."""
    rows = list(events)
    if connection.vendor != "postgresql" or len(rows) < _JSON_INSERT_FROM:
        return Event.objects.bulk_create(rows, batch_size=1000)
    for start in range(0, len(rows), _JSON_CHUNK):
        _insert_as_json(rows[start : start + _JSON_CHUNK])
    return rows


def _insert_as_json(rows: list[Event]) -> None:
    """PostgreSQL: one INSERT … SELECT FROM jsonb_to_recordset(one JSON parameter)."""
    document = json.dumps(
        [
            {
                "n": n,
                "at": e.at.isoformat(),
                "actor_id": e.actor_id,
                "kind": e.kind,
                "order_id": e.order_id,
                "account_id": e.account_id,
                "request_id": None if e.request_id is None else str(e.request_id),
                "batch_id": e.batch_id,
                "message": e.message,
                "data": e.data,
            }
            for n, e in enumerate(rows)
        ]
    )
    table = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (at, actor_id, kind, order_id, account_id, request_id, batch_id,
                                 message, data)
            SELECT at, actor_id, kind, order_id, account_id, request_id, batch_id, message, data
              FROM jsonb_to_recordset(%s::jsonb) AS r(
                   n integer, at timestamptz, actor_id integer, kind text, order_id bigint,
                   account_id bigint, request_id uuid, batch_id bigint, message text, data jsonb)
             ORDER BY n
            RETURNING id
            """,  # noqa: S608 - the table name comes from the model; the rows are one parameter
            [document],
        )
        ids = [row[0] for row in cursor.fetchall()]
    for event, pk in zip(rows, ids, strict=True):
        event.pk = pk
        event._state.adding = False
