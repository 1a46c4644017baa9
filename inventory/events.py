"""Audit events of the stock: one function per kind (see `inventory.audit`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from .audit import Actor, event_new, event_record, events_record_many
from .models import Account, Event


class InventoryEvent(StrEnum):
    ACCOUNTS_DELIVERED = "accounts_delivered"
    CREDENTIALS_REVEALED = "credentials_revealed"
    ACCOUNT_RETIRED = "account_retired"
    ACCOUNT_RESTOCKED = "account_restocked"
    CREDENTIALS_ROTATED = "credentials_rotated"


def accounts_delivered_event(
    *,
    order_id: int,
    line_id: int,
    account_ids: Sequence[int],
    delivery_kind: str,
    batch_id: int | None,
    actor: Actor,
    now: datetime,
) -> Event:
    return event_record(
        kind=InventoryEvent.ACCOUNTS_DELIVERED,
        actor=actor,
        order_id=order_id,
        batch_id=batch_id,
        message=f"{len(account_ids)} account(s) delivered as {delivery_kind}",
        data={"line_id": line_id, "account_ids": list(account_ids), "kind": delivery_kind},
        at=now,
    )


def account_credentials_revealed_event(*, account: Account, actor: Actor, now: datetime) -> Event:
    """A staff member revealed one account's credentials (the event never holds them)."""
    return event_record(
        kind=InventoryEvent.CREDENTIALS_REVEALED,
        actor=actor,
        order_id=account.line.order_id if account.line else None,
        account_id=account.pk,
        message=f"credentials of {account.platform}:{account.username} revealed",
        at=now,
    )


def order_credentials_revealed_event(
    *, order_id: int, link_id: int, account_ids: Sequence[int], now: datetime
) -> Event:
    """The customer revealed the credentials of an order's accounts through an order-page link
    (actor None: the customer)."""
    return event_record(
        kind=InventoryEvent.CREDENTIALS_REVEALED,
        actor=None,
        order_id=order_id,
        data={"link_id": link_id, "account_ids": list(account_ids), "via": "order_link"},
        at=now,
    )


def account_retired_event(*, account_id: int, reason: str, actor: Actor, now: datetime) -> Event:
    return event_record(
        kind=InventoryEvent.ACCOUNT_RETIRED,
        actor=actor,
        account_id=account_id,
        message=reason or "retired from stock",
        at=now,
    )


def account_restocked_event(*, account_id: int, reason: str, actor: Actor, now: datetime) -> Event:
    return event_record(
        kind=InventoryEvent.ACCOUNT_RESTOCKED,
        actor=actor,
        account_id=account_id,
        message=reason or "put back in stock",
        at=now,
    )


def credentials_rotated_event(*, rotated: int, actor: Actor, now: datetime) -> Event:
    return event_record(
        kind=InventoryEvent.CREDENTIALS_ROTATED,
        actor=actor,
        message=f"{rotated} account(s) re-encrypted under the newest key",
        data={"rotated": rotated},
        at=now,
    )


def accounts_retired_together_events(
    *,
    account_ids: Sequence[int],
    source: str,
    reason: str,
    data: dict[str, object],
    actor: Actor,
    now: datetime,
) -> list[Event]:
    """The rest of a bad supplier's or import batch's stock retired in one step: one event per
    account, so each account's history says why."""
    return events_record_many(
        event_new(
            kind=InventoryEvent.ACCOUNT_RETIRED,
            actor=actor,
            account_id=account_id,
            message=f"retired with the rest of {source}: {reason}",
            data={**data, "retired_together": len(account_ids), "reason": reason},
            at=now,
        )
        for account_id in account_ids
    )
