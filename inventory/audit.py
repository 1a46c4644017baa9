"""The one writer of the audit trail (`inventory.Event`), shared by every app.

Services do not build `Event` rows themselves: each app's `events.py` has one small function per
kind it records (`inventory/events.py`, `orders/events.py`, `compensation/events.py`), and those
call `event_record` (one row) or `events_record_many` (set-based services). Call them inside the
transaction of the change they record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict, Unpack

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Field

from .bulk import records_insert, row_record, rows_insert
from .models import Event

Actor = AbstractBaseUser | AnonymousUser | None


def actor_pk(actor: Actor) -> int | None:
    """The user id to record, or None for the system and anonymous customers."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return actor.pk


class EventFields(TypedDict):
    """What an event records (`event_new`, `event_record`, `event_prepare` take the same)."""

    kind: str
    at: datetime
    actor: NotRequired[Actor]
    order_id: NotRequired[int | None]
    account_id: NotRequired[int | None]
    request_id: NotRequired[uuid.UUID | None]
    batch_id: NotRequired[int | None]
    message: NotRequired[str]
    data: NotRequired[dict[str, Any] | None]


_EVENT_KEYS = frozenset(EventFields.__annotations__)


def event_new(**fields: Unpack[EventFields]) -> Event:
    """An unsaved event (for `events_record_many`)."""
    return Event(**_event_values(fields))


def _event_values(fields: EventFields) -> dict[str, Any]:
    """An event's values by attribute name (`order_id`, not `order`)."""
    if not fields.keys() <= _EVENT_KEYS:  # a typo is an error, as with named parameters
        raise TypeError(f"unknown event fields: {sorted(fields.keys() - _EVENT_KEYS)}")
    return {
        "at": fields["at"],
        "actor_id": actor_pk(fields.get("actor")),
        "kind": fields["kind"],
        "order_id": fields.get("order_id"),
        "account_id": fields.get("account_id"),
        "request_id": fields.get("request_id"),
        "batch_id": fields.get("batch_id"),
        "message": fields.get("message", ""),
        "data": fields.get("data") or {},
    }


def event_record(**fields: Unpack[EventFields]) -> Event:
    """Write one event."""
    event = event_new(**fields)
    event.save(force_insert=True)
    return event


_EVENT_FIELDS = (
    "at",
    "actor",
    "kind",
    "order",
    "account",
    "request_id",
    "batch_id",
    "message",
    "data",
)


_EVENT_ATTNAMES = [
    (name, field.attname)
    for name, field in ((name, Event._meta.get_field(name)) for name in _EVENT_FIELDS)
    if isinstance(field, Field)
]


def events_record_many(events: Iterable[Event]) -> list[Event]:
    """Write many events (built with `event_new`) in set-based inserts; their ids are set."""
    rows = list(events)
    rows_insert(Event, rows, _EVENT_FIELDS)
    return rows


@dataclass(frozen=True)
class PreparedEvent:
    """An event's values and the record its insert sends, made ahead of the transaction that
    writes it (`events_record_prepared`), so that the transaction only runs the statement."""

    values: dict[str, Any]  # by attribute name (`order_id`, not `order`)
    record: str


def event_prepare(**fields: Unpack[EventFields]) -> PreparedEvent:
    """An event (as `event_new` makes it) ready for `events_record_prepared`."""
    values = _event_values(fields)
    by_field = {name: values[attname] for name, attname in _EVENT_ATTNAMES}
    return PreparedEvent(values, row_record(Event, by_field))


def events_record_prepared(prepared: Sequence[PreparedEvent]) -> int:
    """Write prepared events in set-based inserts; returns how many."""
    return records_insert(
        Event,
        _EVENT_FIELDS,
        [p.record for p in prepared],
        rows=lambda: [Event(**p.values) for p in prepared],
    )
