"""'Open next' picks the following case in queue order and skips cases other agents hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compensation.models import AccountDecision
from compensation.selectors_backoffice import next_case_ids, waiting_cases

from .factories.compensation import agent, review_cases

pytestmark = pytest.mark.django_db


def test_next_follows_queue_order_skips_others_claims_and_wraps() -> None:
    now = timezone.now()
    me, colleague = agent("me"), agent("colleague")
    # Four cases, oldest first: c1 (3 h), c2 (2 h), c3 (1 h), c4 (30 min).
    c1, c2, c3, c4 = (
        review_cases(1, requested_at=now - timedelta(minutes=m))[0] for m in (180, 120, 60, 30)
    )
    AccountDecision.objects.filter(pk=c3.pk).update(
        claimed_by=colleague, claimed_until=now + timedelta(minutes=10)
    )
    AccountDecision.objects.filter(pk=c4.pk).update(
        claimed_by=me, claimed_until=now + timedelta(minutes=10)
    )
    assert list(waiting_cases(user_id=me.pk, now=now).values_list("pk", flat=True)) == [
        c1.pk,
        c2.pk,
        c4.pk,
    ]
    # After c2: c3 is held by the colleague, so c4 (mine), then wrap to c1.
    assert list(next_case_ids(after=c2, user_id=me.pk, now=now)) == [c4.pk, c1.pk]
    # After c4: nothing later; wrap to the oldest still open.
    assert list(next_case_ids(after=c4, user_id=me.pk, now=now)) == [c1.pk, c2.pk]
    # The colleague's claim expires: c3 is open again.
    assert list(next_case_ids(after=c2, user_id=me.pk, now=now + timedelta(minutes=11))) == [
        c3.pk,
        c4.pk,
        c1.pk,
    ]


def test_next_ignores_decided_cases_and_equal_times_go_by_id() -> None:
    now = timezone.now()
    same = now - timedelta(hours=1)
    a, b = review_cases(2, requested_at=same)  # same moment: queue order by id
    decided = review_cases(1, requested_at=now - timedelta(hours=2))[0]
    AccountDecision.objects.filter(pk=decided.pk).update(decision="rejected")
    assert list(next_case_ids(after=a, user_id=None, now=now)) == [b.pk]
    assert list(next_case_ids(after=b, user_id=None, now=now)) == [a.pk]
    assert list(next_case_ids(after=decided, user_id=None, now=now)) == [a.pk, b.pk]
