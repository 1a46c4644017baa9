"""The customer's view of a request (API GET and result page) on PostgreSQL outside a
transaction reads its rows through a statement prepared once per connection
(compensation/selectors.py). It must give exactly the view the ORM query gives, survive the
statement being discarded, and cost one statement per GET."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from compensation import selectors
from compensation.models import Decision
from compensation.selectors import request_view_json, request_views

from .factories.compensation import request_with_decisions
from .factories.orders import delivered_line

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _requests() -> list:
    first = request_with_decisions(
        line=delivered_line(quantity=3),
        decisions=[
            (Decision.APPROVED, "locked_no_interaction"),
            (Decision.REJECTED, "followers_decreased"),
            (Decision.PENDING, ""),
        ],
    )
    second = request_with_decisions(
        line=delivered_line(quantity=1), decisions=[(Decision.REJECTED, "outside_window")]
    )
    return [first.pk, second.pk]


def test_prepared_rows_give_the_same_views_as_the_orm_query() -> None:
    ids = _requests()
    assert not connection.in_atomic_block

    prepared = request_views(request_ids=ids)
    with transaction.atomic():  # inside a transaction the ORM query is used
        through_orm = request_views(request_ids=ids)

    assert set(prepared) == set(ids)
    assert {k: request_view_json(v) for k, v in prepared.items()} == {
        k: request_view_json(v) for k, v in through_orm.items()
    }
    messages = [a.message for line in prepared[ids[0]].lines for a in line.accounts]
    assert len(messages) == 3 and all(messages)


def test_a_discarded_statement_is_prepared_again() -> None:
    ids = _requests()
    before = request_views(request_ids=ids)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does

    again = request_views(request_ids=ids)

    assert {k: request_view_json(v) for k, v in again.items()} == {
        k: request_view_json(v) for k, v in before.items()
    }


def test_the_api_get_is_one_statement() -> None:
    ids = _requests()
    client = Client()
    url = f"/api/v1/compensation-requests/{ids[0]}"
    assert client.get(url).status_code == 200  # the connection has its statement now

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)

    assert response.status_code == 200
    (only,) = [q["sql"] for q in captured.captured_queries]
    assert only.startswith(f"EXECUTE {selectors._PREPARED_VIEW} (")
    assert ids[0].hex in only.replace("-", "")
