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

from django.db.models import Count, Min, Q, QuerySet, Sum

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
    qs = AccountDecision.objects.filter(decision=Decision.MANUAL_REVIEW)
    agg = qs.aggregate(n=Count("id"), oldest=Min("review_requested_at"))
    unassigned = qs.filter(Q(claimed_by__isnull=True) | Q(claimed_until__lte=now)).count()
    oldest = agg["oldest"]
    return QueueSummary(
        waiting=agg["n"] or 0,
        oldest_requested_at=oldest,
        oldest_age=(now - oldest) if oldest else None,
        unassigned=unassigned,
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


def fulfilment_queue_per_product() -> list[ProductQueue]:
    """One row per product with waiting replacement batches, the longest-waiting first."""
    rows = list(
        ReplacementBatch.objects.filter(state=ReplacementBatch.State.WAITING)
        .order_by()
        .values("product_id")
        .annotate(batches=Count("id"), needed=Sum("quantity"), oldest=Min("approved_at"))
    )
    if not rows:
        return []
    product_ids = [r["product_id"] for r in rows]
    products = {p.id: p for p in Product.objects.filter(id__in=product_ids)}
    stock = dict(
        Account.objects.filter(product_id__in=product_ids, state=Account.State.IN_STOCK)
        .order_by()
        .values("product_id")
        .annotate(n=Count("id"))
        .values_list("product_id", "n")
    )
    first: dict[int, int] = {}
    for product_id, quantity in (
        ReplacementBatch.objects.filter(state=ReplacementBatch.State.WAITING)
        .order_by("product_id", "approved_at", "id")
        .values_list("product_id", "quantity")
    ):
        first.setdefault(product_id, quantity)
    result = [
        ProductQueue(
            product_id=r["product_id"],
            sku=products[r["product_id"]].sku,
            name=products[r["product_id"]].name,
            platform=products[r["product_id"]].platform,
            batches_waiting=r["batches"],
            accounts_needed=r["needed"] or 0,
            oldest_approved_at=r["oldest"],
            next_batch_quantity=first.get(r["product_id"], 0),
            in_stock=stock.get(r["product_id"], 0),
        )
        for r in rows
    ]
    result.sort(key=lambda q: (q.oldest_approved_at is None, q.oldest_approved_at, q.product_id))
    return result


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
