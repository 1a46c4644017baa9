"""inventory.bulk.rows_update writes many rows in one statement (a JSON document of rows on
PostgreSQL): every kind of value it carries must arrive exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compensation.models import AccountDecision
from inventory.bulk import rows_update

from .factories.compensation import review_cases

pytestmark = pytest.mark.django_db


def test_rows_update_carries_every_kind_of_value_exactly() -> None:
    first, second = review_cases(2)
    tricky = 'quote " backslash \\ newline \n unicode ✓ nul-free {"a": [1, 2]}'
    first.rule, first.interactions, first.next_check_at = "profile_not_found", 3, None
    first.evidence = {"note": tricky, "nested": {"n": 1.5, "none": None, "list": ["x", 2]}}
    first.decided_at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    second.rule, second.interactions = 'q" b\\ ✓ {x}', None
    second.evidence = {}
    second.next_check_at = datetime(2027, 6, 7, 8, 9, 10, tzinfo=UTC)
    fields = ["rule", "interactions", "evidence", "decided_at", "next_check_at"]

    with CaptureQueriesContext(connection) as captured:
        updated = rows_update(AccountDecision, [first, second], fields)

    assert updated == 2
    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1
    for row in (first, second):
        stored = AccountDecision.objects.get(pk=row.pk)
        assert [getattr(stored, f) for f in fields] == [getattr(row, f) for f in fields]
