"""The customer's read of one request (API GET, result page) on PostgreSQL outside a transaction
comes from one statement prepared per connection (compensation/selectors_prepared.py). It must
give exactly the view the ORM queries give, in every account state, survive the statement being
discarded or invalidated and the connection dying, and cost the same number of statements
whatever the number of accounts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest
from django.db import close_old_connections, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compensation import selectors_prepared as prepared
from compensation.customer_states import AccountState
from compensation.models import CompensationRequest, Decision
from compensation.selectors import RequestView, request_view, request_view_json, request_views
from compensation.selectors_facts import queue_positions
from compensation.services.submit import request_submit
from orders.models import OrderLine

from .factories.compensation import (
    CompensationRequestFactory,
    deliver_replacement,
    request_with_decisions,
    waiting_batch,
)
from .factories.inventory import ProductFactory
from .factories.orders import delivered_line
from .test_customer_states_everywhere import STATES

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

API = "/api/v1/compensation-requests/{}"


@pytest.fixture(autouse=True)
def _prepared_path() -> Iterator[None]:
    connection.ensure_connection()
    assert prepared.usable()  # outside a transaction, persistent connection: the statement
    yield


def _orm_view(request_id: uuid.UUID) -> RequestView:
    return request_views(request_ids=[request_id])[request_id]


def _statements(work: Callable[[], object]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        work()
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize(("build", "state", "words"), STATES, ids=[s[0].__name__ for s in STATES])
def test_every_state_reads_the_same_as_through_the_orm(
    build: Callable[[OrderLine], CompensationRequest], state: AccountState, words: str
) -> None:
    request = build(delivered_line(quantity=1))
    orm = _orm_view(request.pk)

    fast = request_view(request_id=request.pk)
    body = Client().get(API.format(request.pk))

    assert fast == orm  # every field: states, sentences (text and HTML), queue places, dates
    assert [a.state for a in orm.accounts] == [state]
    assert words in orm.accounts[0].message
    assert body.status_code == 200
    assert body.json() == request_view_json(orm)


def test_a_request_of_many_lines_and_states_reads_the_same() -> None:
    first = request_with_decisions(
        line=delivered_line(quantity=4),
        decisions=[
            (Decision.APPROVED, "locked_no_interaction"),
            (Decision.REJECTED, "followers_decreased"),
            (Decision.PENDING, ""),
            (Decision.MANUAL_REVIEW, "interactions_unknown"),
        ],
        status="checking",
    )
    second_line = delivered_line(quantity=2, order=first.order)
    second = request_with_decisions(
        line=second_line, decisions=[(Decision.REJECTED, "outside_window")] * 2
    )
    # The second line's decisions, moved onto the first request: one request, two lines.
    second.claims.update(request=first)
    second.decisions.update(request=first)

    orm = _orm_view(first.pk)
    assert [len(line.accounts) for line in orm.lines] == [4, 2]
    assert request_view(request_id=first.pk) == orm
    assert Client().get(API.format(first.pk)).json() == request_view_json(orm)


def test_a_request_without_accounts_reads_the_same() -> None:
    request = CompensationRequestFactory.create()
    orm = _orm_view(request.pk)
    assert orm.lines == []
    assert request_view(request_id=request.pk) == orm


@pytest.mark.parametrize("key", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_unknown_and_malformed_ids_are_404(key: str) -> None:
    response = Client().get(API.format(key))
    assert response.status_code == 404
    assert response.json() == {"error": "No such compensation request."}
    assert request_view(request_id=uuid.uuid4()) is None


def _request_of(accounts: int) -> CompensationRequest:
    """A request whose accounts are spread over every kind of row: approved with a waiting
    batch, refused, pending, with a person."""
    kinds = [
        (Decision.APPROVED, "locked_no_interaction"),
        (Decision.REJECTED, "appears_active"),
        (Decision.PENDING, ""),
        (Decision.MANUAL_REVIEW, "profile_not_found"),
    ]
    return request_with_decisions(
        line=delivered_line(quantity=accounts),
        decisions=[kinds[i % len(kinds)] for i in range(accounts)],
        status="checking",
    )


def test_the_api_get_is_one_statement_whatever_the_number_of_accounts() -> None:
    small, large = _request_of(2), _request_of(40)
    client = Client()
    client.get(API.format(small.pk))  # the connection has its statement now

    on_small = _statements(lambda: client.get(API.format(small.pk)))
    on_large = _statements(lambda: client.get(API.format(large.pk)))

    assert len(on_small) == len(on_large) == 1
    assert on_large[0] == f"EXECUTE {prepared.STATEMENT} ('{large.pk.hex}'::uuid)"


def _asked_again_for(accounts: int) -> CompensationRequest:
    """A line of `accounts` accounts compensated yesterday, and the customer asking again."""
    line = delivered_line(quantity=accounts)
    request_with_decisions(
        line=line,
        decisions=[(Decision.APPROVED, "locked_no_interaction")] * accounts,
        now=timezone.now() - timedelta(days=1),
    )
    return request_submit(
        email=line.order.email,
        order_id=line.order.order_id,
        reason="Locked again",
        password_change_warning=False,
        skus=[line.product.sku],
        now=timezone.now(),
    ).request


def test_a_line_already_compensated_adds_the_same_two_statements_whatever_its_size() -> None:
    small, large = _asked_again_for(1), _asked_again_for(25)
    request_view(request_id=small.pk)

    on_small = _statements(lambda: request_view(request_id=small.pk))
    on_large = _statements(lambda: request_view(request_id=large.pk))

    # The statement, then the claim holding the line and its decisions (selectors_facts).
    assert len(on_small) == len(on_large) == 3
    view = request_view(request_id=large.pk)
    assert view == _orm_view(large.pk)
    assert view is not None
    assert {a.state for a in view.accounts} == {AccountState.ALREADY_COMPENSATED}


def test_a_discarded_statement_is_prepared_again() -> None:
    request = _request_of(3)
    before = request_view(request_id=request.pk)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does

    statements = _statements(lambda: request_view(request_id=request.pk))
    again = _statements(lambda: request_view(request_id=request.pk))

    # That read runs the plain query (on a pooler, the next statement may reach another
    # session); the next one prepares the statement again.
    assert [s.split()[0] for s in statements] == ["EXECUTE", "SELECT"]
    assert [s.split()[0] for s in again] == ["PREPARE", "EXECUTE"]
    assert request_view(request_id=request.pk) == before


def test_a_statement_prepared_by_someone_else_on_the_session_is_used() -> None:
    request = _request_of(2)
    request_view(request_id=request.pk)
    prepared._prepared_on.discard(connection.connection)  # as if another client had prepared it

    statements = _statements(lambda: request_view(request_id=request.pk))

    assert [s.split()[0] for s in statements] == ["PREPARE", "EXECUTE"]  # the first one refused
    assert request_view(request_id=request.pk) == _orm_view(request.pk)


def test_a_plan_invalidated_by_a_schema_change_is_prepared_again() -> None:
    request = _request_of(2)
    before = request_view(request_id=request.pk)
    with connection.cursor() as cursor:  # a migration changes a column the statement returns
        cursor.execute("ALTER TABLE inventory_product ALTER COLUMN sku TYPE text")
    try:
        statements = _statements(lambda: request_view(request_id=request.pk))
        again = _statements(lambda: request_view(request_id=request.pk))
        assert [s.split()[0] for s in statements] == ["EXECUTE", "DEALLOCATE", "SELECT"]
        assert [s.split()[0] for s in again] == ["PREPARE", "EXECUTE"]
        assert request_view(request_id=request.pk) == before
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE inventory_product ALTER COLUMN sku TYPE varchar(64)")


def _terminate_own_backend() -> int:
    pid: int = connection.connection.info.backend_pid
    settings_dict = connection.settings_dict
    dsn = (
        f"postgresql://{settings_dict['USER']}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT']}/{settings_dict['NAME']}"
    )
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


def test_a_connection_that_died_between_requests_is_replaced_without_a_health_check() -> None:
    request = _request_of(2)
    client = Client()
    expected = client.get(API.format(request.pk)).json()
    pid = _terminate_own_backend()
    close_old_connections()  # what every request starts with (the test client leaves it out)

    response = client.get(API.format(request.pk))

    assert response.status_code == 200
    assert response.json() == expected
    assert connection.connection.info.backend_pid != pid


def test_a_live_connection_is_not_health_checked_before_the_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = _request_of(2)
    client = Client()
    client.get(API.format(request.pk))
    checks: list[bool] = []
    real_check = connection.is_usable

    def counted_check() -> bool:
        checks.append(True)
        return real_check()

    monkeypatch.setattr(connection, "is_usable", counted_check)
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]

    close_old_connections()  # a new request
    assert client.get(API.format(request.pk)).status_code == 200
    assert checks == []  # the statement itself stood in for Django's `SELECT 1`
    close_old_connections()
    assert CompensationRequest.objects.filter(pk=request.pk).exists()
    assert checks == [True]  # any other query still gets Django's check first


def test_inside_a_transaction_the_orm_queries_are_used() -> None:
    request = _request_of(2)

    with transaction.atomic():
        assert not prepared.usable()
        statements = _statements(lambda: request_view(request_id=request.pk))
    assert not any(s.startswith("EXECUTE") for s in statements)


def test_without_persistent_connections_the_orm_queries_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = _request_of(2)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)  # e.g. behind pgbouncer

    assert not prepared.usable()
    statements = _statements(lambda: request_view(request_id=request.pk))
    assert not any(s.startswith("EXECUTE") for s in statements)


def test_a_waiting_batch_gets_its_place_in_the_queue() -> None:
    build = dict((s[0].__name__, s[0]) for s in STATES)["waiting_for_stock"]
    line = delivered_line(quantity=1)
    request = build(line)
    view = request_view(request_id=request.pk)
    assert view is not None
    assert view.accounts[0].status.queue_position == 2
    assert view.accounts[0].status.waiting_since == request.batches.get().approved_at
    assert timezone.now() - view.created_at < timedelta(minutes=5)


def test_queue_places_count_only_earlier_waiting_batches_of_the_product() -> None:
    line = delivered_line(quantity=2)
    approved_at = timezone.now() - timedelta(hours=1)
    product = line.product
    waiting_batch(product=product, quantity=1, approved_at=approved_at - timedelta(minutes=1))
    waiting_batch(product=product, quantity=1, approved_at=approved_at)  # same time, lower id
    waiting_batch(product=ProductFactory.create(), quantity=1, approved_at=approved_at)
    gone = waiting_batch(product=product, quantity=1, approved_at=approved_at - timedelta(hours=1))
    deliver_replacement(batch=gone)
    request = request_with_decisions(
        line=line,
        decisions=[(Decision.APPROVED, "locked_no_interaction")] * 2,
        now=approved_at,
    )
    request.batches.update(unavailable_notified_at=timezone.now())
    later = waiting_batch(product=product, quantity=1, approved_at=approved_at)

    view = request_view(request_id=request.pk)

    assert view == _orm_view(request.pk)
    assert view is not None
    assert [a.status.queue_position for a in view.accounts] == [3, 3]
    batch = request.batches.get()
    assert queue_positions([batch, later, gone]) == {batch.pk: 3, later.pk: 4}
