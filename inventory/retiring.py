"""Retire what is left in stock of a bad supplier or import batch, in one audited step.

The manager first sees how many accounts it will take out (`stock_in_source_count`) and confirms
that number; if stock changed in between (an import, a delivery), nothing is retired and the new
count is reported, so a manager never retires more than they were shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet

from .audit import Actor
from .events import accounts_retired_together_events
from .models import Account, ImportBatch

RETIRE_PERM = "inventory.change_account"


class StockCountChanged(Exception):
    """The in-stock count is no longer the one the manager confirmed. Nothing was retired."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"{actual} account(s) are in stock now, not the {expected} you confirmed; "
            "nothing was retired, check the new count"
        )
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class StockSource:
    """A supplier (by name) or an import batch (by id): exactly one of the two."""

    supplier: str | None = None
    import_batch_id: int | None = None

    def __post_init__(self) -> None:
        if (self.supplier is None) == (self.import_batch_id is None):
            raise ValueError("give a supplier or an import batch, not both or neither")
        if self.supplier is not None and not self.supplier.strip():
            raise ValueError("the supplier name is empty")

    @property
    def label(self) -> str:
        if self.supplier is not None:
            return f"supplier {self.supplier}"
        batch = ImportBatch.objects.filter(pk=int(self.import_batch_id or 0)).first()
        if batch is None:
            return f"import batch #{self.import_batch_id}"
        return f"import batch #{batch.pk} ({batch.filename}, {batch.created_at:%Y-%m-%d})"

    def accounts(self) -> QuerySet[Account]:
        qs = Account.objects.filter(state=Account.State.IN_STOCK)
        if self.supplier is not None:
            return qs.filter(supplier=self.supplier)
        return qs.filter(import_batch_id=self.import_batch_id)


def stock_in_source_count(*, source: StockSource) -> int:
    return source.accounts().count()


def stock_retire_source(
    *, source: StockSource, expected: int, reason: str, actor: Actor, now: datetime
) -> int:
    """Retire every in-stock account of the source, if there are exactly `expected` of them.

    Rows are locked in primary-key order (skipping none: an allocation in flight finishes first),
    then moved in stock -> retired by one compare-and-set update. Each account gets its own
    `account_retired` event (its history shows why), all in this transaction. Returns the count.
    """
    if actor is None or not getattr(actor, "has_perm", lambda _p: False)(RETIRE_PERM):
        raise PermissionDenied(RETIRE_PERM)
    reason = reason.strip()
    if not reason:
        raise ValueError("say why the stock is retired (it goes into the audit trail)")
    with transaction.atomic():
        ids = list(
            source.accounts().select_for_update().order_by("pk").values_list("pk", flat=True)
        )
        if len(ids) != expected:
            raise StockCountChanged(expected=expected, actual=len(ids))
        if not ids:
            return 0
        updated = Account.objects.filter(pk__in=ids, state=Account.State.IN_STOCK).update(
            state=Account.State.RETIRED
        )
        if updated != len(ids):  # pragma: no cover - the rows are locked
            raise StockCountChanged(expected=expected, actual=updated)
        accounts_retired_together_events(
            account_ids=ids,
            source=source.label,
            reason=reason,
            data={"supplier": source.supplier, "import_batch_id": source.import_batch_id},
            actor=actor,
            now=now,
        )
    return len(ids)
