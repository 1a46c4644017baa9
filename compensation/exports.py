"""CSV exports of the back office (review queue, requests): the rows, read in one query each.
Written by `compensation.csv_export` (formula injection neutralised, times in UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from compensation.models import AccountDecision, CompensationRequest, Decision, ReplacementBatch
from inventory.choices import choice_labels

QUEUE_HEADER = (
    "case",
    "in_queue_since_utc",
    "waiting_hours",
    "product_sku",
    "product",
    "order",
    "customer_email",
    "account",
    "platform",
    "rule",
    "decision",
    "claimed_by",
    "customer_reason",
)

REQUESTS_HEADER = (
    "request",
    "order",
    "customer_email",
    "received_utc",
    "state",
    "accounts",
    "approved",
    "waiting_for_a_person",
    "rejected",
    "not_verified_yet",
    "being_checked",
    "replacements_delivered",
    "customer_reason",
)


def queue_rows(queryset: QuerySet[AccountDecision], *, now: datetime) -> Iterator[list[Any]]:
    rows = queryset.select_related("account__product", "request__order", "claimed_by").order_by(
        "review_requested_at", "id"
    )
    decisions = choice_labels(AccountDecision, "decision")
    for d in rows.iterator(chunk_size=500):
        held = d.claimed_by is not None and d.claimed_until is not None and d.claimed_until > now
        waited = (
            round((now - d.review_requested_at).total_seconds() / 3600, 1)
            if d.review_requested_at and d.decision == Decision.MANUAL_REVIEW
            else None
        )
        yield [
            d.pk,
            d.review_requested_at,
            waited,
            d.account.product.sku,
            d.account.product.name,
            d.request.order.order_id,
            d.request.order.email,
            d.account.username,
            d.account.platform,
            d.rule,
            decisions.get(d.decision, d.decision),
            d.claimed_by.get_username() if held and d.claimed_by else "",
            d.request.reason,
        ]


def request_state(counts: dict[str, int]) -> str:
    """What a person needs to know about a request (the API's `status` keeps its own meaning):
    being checked, waiting for a person, or done."""
    if counts.get("pending") or counts.get("unverified"):
        return "Being checked"
    if counts.get("manual_review"):
        return "Waiting for a person"
    return "Done"


def _decisions_counted(decision: str | None = None) -> Coalesce:
    """How many of the row's accounts have `decision` (all when None): a subquery per row over
    the decisions' (request, id) index, so a page of 100 requests counts 100 requests' decisions,
    not every decision in the table grouped by request."""
    rows = AccountDecision.objects.filter(request_id=OuterRef("pk"))
    if decision is not None:
        rows = rows.filter(decision=decision)
    counted = rows.order_by().values("request_id").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def request_decision_counts(
    queryset: QuerySet[CompensationRequest],
) -> QuerySet[CompensationRequest]:
    """Each request with its accounts counted by decision (`n_accounts`, `n_approved`,
    `n_review`, `n_rejected`, `n_unverified`, `n_pending`): one query for a whole list."""
    return queryset.select_related("order").annotate(
        n_accounts=_decisions_counted(),
        n_approved=_decisions_counted(Decision.APPROVED),
        n_review=_decisions_counted(Decision.MANUAL_REVIEW),
        n_rejected=_decisions_counted(Decision.REJECTED),
        n_unverified=_decisions_counted(Decision.UNVERIFIED),
        n_pending=_decisions_counted(Decision.PENDING),
    )


def requests_rows(queryset: QuerySet[CompensationRequest]) -> Iterator[list[Any]]:
    counted = request_decision_counts(queryset).order_by("-received_at")
    delivered: dict[Any, int] = {}
    for request_id, quantity in ReplacementBatch.objects.filter(
        request__in=queryset.values("pk"), state=ReplacementBatch.State.DELIVERED
    ).values_list("request_id", "quantity"):
        delivered[request_id] = delivered.get(request_id, 0) + quantity
    # Annotated with the counts (typed Any: the annotations are not model fields).
    for r in cast(Iterator[Any], counted.iterator(chunk_size=500)):
        counts = {
            "approved": r.n_approved,
            "manual_review": r.n_review,
            "unverified": r.n_unverified,
            "pending": r.n_pending,
        }
        yield [
            str(r.pk),
            r.order.order_id,
            r.order.email,
            r.received_at,
            request_state(counts),
            r.n_accounts,
            r.n_approved,
            r.n_review,
            r.n_rejected,
            r.n_unverified,
            r.n_pending,
            delivered.get(r.pk, 0),
            r.reason,
        ]
