"""Reads for the back office: the review queue, its summary, the next case to open after
deciding one, and the replacement queue per product (what waits, what it needs, since when, what
is on hand).

Queue order is the policy's: oldest first (`review_requested_at`, then id). "Open next" skips a
case someone else holds (an unexpired claim), never the agent's own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.expressions import RawSQL

from compensation.models import AccountDecision, Decision, ReplacementBatch
from inventory.models import Account, Event, Product


def review_queue() -> QuerySet[AccountDecision]:
    """Cases waiting for a person, oldest first."""
    return (
        AccountDecision.objects.filter(decision=Decision.MANUAL_REVIEW)
        .select_related("account", "claim__line__product", "request__order", "claimed_by")
        .order_by("review_requested_at", "id")
    )


@dataclass(frozen=True)
class QueueSummary:
    waiting: int
    oldest_requested_at: datetime | None
    oldest_age: timedelta | None
    unassigned: int


def review_queue_summary(*, now: datetime) -> QueueSummary:
    """One pass over the queue's index (decision, requested at, id, claimed by, until)."""
    agg = AccountDecision.objects.filter(decision=Decision.MANUAL_REVIEW).aggregate(
        n=Count("id"),
        oldest=Min("review_requested_at"),
        unassigned=Count("id", filter=Q(claimed_by__isnull=True) | Q(claimed_until__lte=now)),
    )
    oldest = agg["oldest"]
    return QueueSummary(
        waiting=agg["n"] or 0,
        oldest_requested_at=oldest,
        oldest_age=(now - oldest) if oldest else None,
        unassigned=agg["unassigned"] or 0,
    )


@dataclass(frozen=True)
class ProductQueue:
    product_id: int
    sku: str
    name: str
    platform: str
    batches_waiting: int
    accounts_needed: int
    oldest_approved_at: datetime | None
    next_batch_quantity: int
    in_stock: int

    @property
    def shortfall(self) -> int:
        return max(0, self.accounts_needed - self.in_stock)

    @property
    def in_stock_display(self) -> str:
        """Stock is counted only as far as the queue needs it (see the selector)."""
        if self.in_stock > self.accounts_needed:
            return f"more than {self.accounts_needed}"
        return str(self.in_stock)


def fulfilment_queue_per_product() -> list[ProductQueue]:
    """One row per product with waiting replacement batches, the longest-waiting first.

    One query: per product, subqueries over the FIFO index (product, state, approved_at, id,
    quantity) and a count over the stock index (product, state, id); no sort of the queue. On
    PostgreSQL the stock is counted only up to what the queue needs plus one (`in_stock` is then
    at most `accounts_needed + 1`, i.e. "enough"): a product with 15,000 accounts on hand costs
    as little as one with 15."""
    waiting = ReplacementBatch.objects.filter(
        product=OuterRef("pk"), state=ReplacementBatch.State.WAITING
    )
    head = waiting.order_by("approved_at", "id")
    stock = Account.objects.filter(product=OuterRef("pk"), state=Account.State.IN_STOCK)
    rows = (
        Product.objects.filter(Exists(waiting))
        .annotate(
            batches_waiting=_per_product(waiting, Count("pk")),
            accounts_needed=_per_product(waiting, Sum("quantity")),
            oldest_approved_at=Subquery(head.values("approved_at")[:1]),
            next_batch_quantity=Subquery(head.values("quantity")[:1]),
            in_stock=_stock_up_to_need() or _per_product(stock, Count("pk")),
        )
        .values_list(
            "pk",
            "sku",
            "name",
            "platform",
            "batches_waiting",
            "accounts_needed",
            "oldest_approved_at",
            "next_batch_quantity",
            "in_stock",
        )
    )
    result = [
        ProductQueue(
            product_id=pk,
            sku=sku,
            name=name,
            platform=platform,
            batches_waiting=batches or 0,
            accounts_needed=needed or 0,
            oldest_approved_at=oldest,
            next_batch_quantity=first or 0,
            in_stock=in_stock or 0,
        )
        for pk, sku, name, platform, batches, needed, oldest, first, in_stock in rows
    ]
    result.sort(key=lambda q: (q.oldest_approved_at is None, q.oldest_approved_at, q.product_id))
    return result


def _stock_up_to_need() -> RawSQL | None:
    """In-stock accounts of the outer product, counted up to the waiting need + 1 (PostgreSQL
    accepts a LIMIT computed from the outer row; SQLite does not, and counts them all)."""
    if connection.vendor != "postgresql":
        return None
    accounts = Account._meta.db_table
    batches = ReplacementBatch._meta.db_table
    products = Product._meta.db_table
    # Table names come from the models; the values are parameters.
    sql = (
        f"(SELECT count(*) FROM (SELECT 1 FROM {accounts} a"  # noqa: S608
        f" WHERE a.product_id = {products}.id AND a.state = %s"
        f" LIMIT (SELECT sum(b.quantity) + 1 FROM {batches} b"
        f" WHERE b.product_id = {products}.id AND b.state = %s)) AS needed)"
    )
    return RawSQL(  # noqa: S611 - no input from outside: model table names and two constants
        sql,
        [Account.State.IN_STOCK, ReplacementBatch.State.WAITING],
        output_field=IntegerField(),
    )


def _per_product(rows: QuerySet[Any], aggregate: Any) -> Subquery:
    """An aggregate over the outer product's rows, as a scalar subquery."""
    return Subquery(
        rows.order_by().values("product").annotate(value=aggregate).values("value"),
        output_field=IntegerField(),
    )


def request_events(*, request_id: Any) -> QuerySet[Event]:
    """The audit trail of one request (events recorded with its id), oldest first."""
    return (
        Event.objects.filter(request_id=request_id)
        .select_related("actor", "account")
        .order_by("at", "id")
    )


def case_events(*, request_id: Any, account_id: int) -> QuerySet[Event]:
    """The audit trail of one review case (its request and account), oldest first."""
    return (
        Event.objects.filter(request_id=request_id, account_id=account_id)
        .select_related("actor")
        .order_by("at", "id")
    )


def _open_to(user_id: int | None, now: datetime) -> Q:
    return (
        Q(claimed_by__isnull=True)
        | Q(claimed_until__isnull=True)
        | Q(claimed_until__lte=now)
        | Q(claimed_by_id=user_id)
    )


def waiting_cases(*, user_id: int | None, now: datetime) -> QuerySet[AccountDecision]:
    """Cases waiting for a person that `user_id` may take, in queue order."""
    return (
        AccountDecision.objects.filter(decision=Decision.MANUAL_REVIEW)
        .filter(_open_to(user_id, now))
        .order_by("review_requested_at", "id")
    )


def next_case_ids(
    *, after: AccountDecision, user_id: int | None, now: datetime, limit: int = 5
) -> Iterator[int]:
    """Candidates for "open next", best first: the cases after `after` in queue order, then (the
    queue wrapped) the ones before it that are still open. `after` itself is never returned."""
    queue = waiting_cases(user_id=user_id, now=now).exclude(pk=after.pk)
    position = after.review_requested_at
    if position is None:  # not a queue case (e.g. decided long ago): start from the top
        yield from queue.values_list("pk", flat=True)[:limit]
        return
    later = Q(review_requested_at__gt=position) | Q(review_requested_at=position, id__gt=after.pk)
    seen = 0
    for pk in queue.filter(later).values_list("pk", flat=True)[:limit]:
        seen += 1
        yield pk
    if seen < limit:
        yield from queue.exclude(later).values_list("pk", flat=True)[: limit - seen]


@dataclass(frozen=True)
class RequestSummary:
    """A request's accounts at a glance, for the staff page."""

    accounts: int
    waiting_for_a_person: int
    approved: int
    rejected: int
    being_checked: int
    replacements_delivered: int
    replacements_waiting_for_stock: int


def request_summary(*, request_id: Any) -> RequestSummary:
    counts = dict(
        AccountDecision.objects.filter(request_id=request_id)
        .order_by()
        .values("decision")
        .annotate(n=Count("id"))
        .values_list("decision", "n")
    )
    batches = dict(
        ReplacementBatch.objects.filter(request_id=request_id)
        .order_by()
        .values("state")
        .annotate(n=Sum("quantity"))
        .values_list("state", "n")
    )
    return RequestSummary(
        accounts=sum(counts.values()),
        waiting_for_a_person=counts.get(Decision.MANUAL_REVIEW, 0),
        approved=counts.get(Decision.APPROVED, 0),
        rejected=counts.get(Decision.REJECTED, 0),
        being_checked=counts.get(Decision.PENDING, 0) + counts.get(Decision.UNVERIFIED, 0),
        replacements_delivered=batches.get(ReplacementBatch.State.DELIVERED) or 0,
        replacements_waiting_for_stock=batches.get(ReplacementBatch.State.WAITING) or 0,
    )
