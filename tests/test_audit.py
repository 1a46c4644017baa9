"""The one writer of the audit trail: many events at once (the JSON path on PostgreSQL, the ORM's
insert elsewhere and for a few rows) store exactly what the ORM would, ids included."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from inventory.audit import event_new, event_prepare, events_record_many, events_record_prepared
from inventory.models import Event

from .factories.compensation import agent
from .factories.inventory import make_account
from .factories.orders import make_order

pytestmark = pytest.mark.django_db


def _fields(event: Event) -> tuple[object, ...]:
    return (
        event.at,
        event.actor_id,
        event.kind,
        event.order_id,
        event.account_id,
        event.request_id,
        event.batch_id,
        event.message,
        event.data,
    )


@pytest.mark.parametrize("count", [3, 120])  # below and above the JSON path's threshold
def test_many_events_are_stored_as_built_with_their_ids(count: int) -> None:
    now = timezone.now()
    actor = agent("ann")
    order = make_order(order_id="AU1")
    account = make_account()
    request_id = uuid.uuid4()
    built = [
        event_new(
            kind="batch_delivered" if i % 2 else "account_decided",
            at=now + timedelta(microseconds=i),
            actor=actor if i % 3 == 0 else None,
            order_id=order.pk if i % 2 else None,
            account_id=account.pk if i % 5 == 0 else None,
            request_id=request_id if i % 4 else None,
            batch_id=i if i % 2 else None,
            message=f"{i} replacement account(s) delivered — «ok» ✓ 'quoted' %s",
            data={"line_id": i, "account_ids": [i, i + 1], "nested": {"text": "ünï\\"}},
        )
        for i in range(count)
    ]
    written = events_record_many(built)
    assert [e.pk is not None for e in written] == [True] * count
    stored = {e.pk: e for e in Event.objects.all()}
    assert len(stored) == count
    assert [_fields(stored[e.pk]) for e in written] == [_fields(e) for e in built]
    # Ids follow the order the events were given (the trail's tie-breaker).
    assert [e.pk for e in written] == sorted(e.pk for e in written)


def test_no_events_write_nothing() -> None:
    assert events_record_many([]) == []
    assert Event.objects.count() == 0


@pytest.mark.parametrize("count", [3, 120])
def test_prepared_events_are_stored_as_the_ones_built_directly(count: int) -> None:
    """Events prepared ahead of a transaction (their insert record made while the checks wait on
    the network) store exactly what `event_new` + `events_record_many` store."""
    now = timezone.now()
    actor = agent("ann")
    order = make_order(order_id="AU2")
    request_id = uuid.uuid4()
    kwargs: list[dict[str, Any]] = [
        {
            "kind": "account_decided",
            "at": now + timedelta(microseconds=i),
            "actor": actor if i % 3 == 0 else None,
            "order_id": order.pk,
            "request_id": request_id if i % 4 else None,
            "message": f"approved ({i}) — «ok» ✓ %s",
            "data": {"decision": "approved", "interactions": i, "next_check_at": None},
        }
        for i in range(count)
    ]
    assert events_record_prepared([event_prepare(**k) for k in kwargs]) == count
    prepared = sorted((_fields(e) for e in Event.objects.all()), key=lambda f: str(f[0]))
    Event.objects.all().delete()
    events_record_many([event_new(**k) for k in kwargs])
    direct = sorted((_fields(e) for e in Event.objects.all()), key=lambda f: str(f[0]))
    assert prepared == direct
    assert len(direct) == count
