"""What waits for the back office, for the admin home: cases waiting for a person, accounts the
status service could not check yet, and replacement batches waiting for stock (per product, with
the shortfall). Ages are measured against REVIEW_SLA_HOURS: past it, the admin shows them in red.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q

from compensation.models import AccountDecision, Decision, ReplacementBatch
from compensation.selectors_backoffice import ProductQueue, fulfilment_queue_per_product


def sla() -> timedelta:
    return timedelta(hours=settings.REVIEW_SLA_HOURS)


@dataclass(frozen=True)
class Waiting:
    count: int
    oldest_at: datetime | None
    now: datetime
    over_sla: int = 0

    @property
    def oldest_age(self) -> timedelta | None:
        return self.now - self.oldest_at if self.oldest_at else None

    @property
    def breached(self) -> bool:
        age = self.oldest_age
        return age is not None and age > sla()


@dataclass(frozen=True)
class ProductShortfall:
    queue: ProductQueue
    now: datetime

    @property
    def oldest_age(self) -> timedelta | None:
        oldest = self.queue.oldest_approved_at
        return self.now - oldest if oldest else None

    @property
    def breached(self) -> bool:
        age = self.oldest_age
        return age is not None and age > sla()


@dataclass(frozen=True)
class WorkSummary:
    review: Waiting
    review_unassigned: int
    unverified: Waiting
    batches: Waiting
    per_product: list[ProductShortfall]
    sla_hours: int


def work_summary(*, now: datetime) -> WorkSummary:
    cutoff = now - sla()
    review = AccountDecision.objects.filter(decision=Decision.MANUAL_REVIEW).aggregate(
        n=Count("id"),
        oldest=Min("review_requested_at"),
        late=Count("id", filter=Q(review_requested_at__lt=cutoff)),
        unassigned=Count("id", filter=Q(claimed_by__isnull=True) | Q(claimed_until__lte=now)),
    )
    # An unverified account has waited since its request was received.
    unverified = AccountDecision.objects.filter(decision=Decision.UNVERIFIED).aggregate(
        n=Count("id"),
        oldest=Min("request__received_at"),
        late=Count("id", filter=Q(request__received_at__lt=cutoff)),
    )
    batches = ReplacementBatch.objects.filter(state=ReplacementBatch.State.WAITING).aggregate(
        n=Count("id"), oldest=Min("approved_at"), late=Count("id", filter=Q(approved_at__lt=cutoff))
    )
    return WorkSummary(
        review=Waiting(review["n"], review["oldest"], now, review["late"]),
        review_unassigned=review["unassigned"],
        unverified=Waiting(unverified["n"], unverified["oldest"], now, unverified["late"]),
        batches=Waiting(batches["n"], batches["oldest"], now, batches["late"]),
        per_product=[ProductShortfall(queue=q, now=now) for q in fulfilment_queue_per_product()],
        sla_hours=settings.REVIEW_SLA_HOURS,
    )
