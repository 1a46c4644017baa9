"""inventory.bulk.rows_update writes many rows in one statement (a JSON document of rows on
PostgreSQL): every kind of value it carries must arrive exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compensation.models import AccountDecision
from inventory.bulk import record_join, row_record, rows_update

from .factories.compensation import review_cases

pytestmark = pytest.mark.django_db


def test_rows_update_carries_every_kind_of_value_exactly() -> None:
    first, second = review_cases(2)
    tricky = 'quote " backslash \\ newline \n unicode ✓ nul-free {"a": [1, 2]}'
    first.rule, first.interactions, first.next_check_at = "profile_not_found", 3, None
    first.evidence = {"note": tricky, "nested": {"n": 1.5, "none": None, "list": ["x", 2]}}
    first.evidence["beyond 64 bits"] = 10**30  # orjson refuses it: the standard library writes it
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


def test_records_made_beforehand_write_what_the_rows_carry() -> None:
    """The checks make each row's record while they wait on the network and add the batch inside
    the transaction (`record_join`): the stored row is the same as from the rows."""
    first, second = review_cases(2)
    first.rule, first.interactions, first.evidence = 'q" b\\ ✓', 7, {"n": [1, {"x": "ü"}]}
    first.decided_at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    second.rule, second.interactions, second.evidence = "locked_no_interaction", None, {}
    second.decided_at = datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone(timedelta(hours=-5)))
    # Values the fields prepare (a UUID key, here the row's own) besides those sent unchanged.
    fields = ["rule", "interactions", "evidence", "decided_at", "request_id"]
    records = [
        record_join(
            row_record(AccountDecision, {"id": row.pk, **{f: getattr(row, f) for f in fields}}),
            row_record(AccountDecision, {"next_check_at": None}),
        )
        for row in (first, second)
    ]
    written = rows_update(
        AccountDecision, [first, second], [*fields, "next_check_at"], records=records
    )

    assert written == 2

    for row in (first, second):
        stored = AccountDecision.objects.get(pk=row.pk)
        assert [getattr(stored, f) for f in fields] == [getattr(row, f) for f in fields]
        assert stored.next_check_at is None


@pytest.mark.postgres
def test_records_that_do_not_match_the_rows_write_nothing() -> None:
    first, second = review_cases(2)
    before = list(AccountDecision.objects.order_by("pk").values_list("rule", flat=True))
    record = row_record(AccountDecision, {"id": first.pk, "rule": "changed"})

    with pytest.raises(ValueError, match="1 records for 2 rows"):
        rows_update(AccountDecision, [first, second], ["rule"], records=[record])

    assert list(AccountDecision.objects.order_by("pk").values_list("rule", flat=True)) == before


@pytest.mark.postgres
def test_a_number_jsonb_cannot_hold_is_written_as_null_not_refused() -> None:
    """A status answer parsed with NaN or an infinity in it (Python's json reads them) must not
    make the database refuse the whole statement."""
    (row,) = review_cases(1)
    row.evidence = {"followers": float("nan"), "likes": float("inf"), "kept": 1.5}

    assert rows_update(AccountDecision, [row], ["evidence"]) == 1

    assert AccountDecision.objects.get(pk=row.pk).evidence == {
        "followers": None,
        "likes": None,
        "kept": 1.5,
    }
