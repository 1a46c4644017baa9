"""Reads of the review queue an agent works through: the next case to open after deciding one.

Queue order is the policy's: oldest first (`review_requested_at`, then id). A case someone else
holds (an unexpired claim) is skipped; the agent's own claims are not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Q, QuerySet

from compensation.models import AccountDecision, Decision


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
