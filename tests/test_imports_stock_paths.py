"""The stock import has two paths: COPY into a staging table on PostgreSQL (stock_copy.py) and the
plain two-pass path SQLite takes. tests/test_imports.py runs whichever the database offers; this
module runs the same stock scenarios again on the plain path (so on PostgreSQL, i.e. in CI, both
paths are held to the same report, messages and writes), and checks what only the COPY path
promises: its statements do not grow with the file."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import importing
from inventory.importing import stock_import
from inventory.models import Account, ImportBatch

from .factories.inventory import make_account, make_product
from .test_imports import (  # the same scenarios, collected again here
    NOW,
    STOCK_HEADER,
    errors_of,
    test_stock_case_variant_of_own_account_is_an_error,
    test_stock_dry_run_counts_but_writes_nothing,
    test_stock_file_level_errors,
    test_stock_import_in_batches_larger_than_one_chunk,
    test_stock_import_reports_every_bad_row_and_imports_nothing,
    test_stock_import_seals_credentials_keeps_baselines_and_wakes_fulfilment,
    test_stock_reimport_skips_present_rows,
    test_stock_reimport_with_nothing_new_wakes_nobody,
    test_stock_same_username_on_another_platform_is_fine,
)

pytestmark = pytest.mark.django_db

PLAIN_SCENARIOS = (
    test_stock_case_variant_of_own_account_is_an_error,
    test_stock_dry_run_counts_but_writes_nothing,
    test_stock_file_level_errors,
    test_stock_import_in_batches_larger_than_one_chunk,
    test_stock_import_reports_every_bad_row_and_imports_nothing,
    test_stock_import_seals_credentials_keeps_baselines_and_wakes_fulfilment,
    test_stock_reimport_skips_present_rows,
    test_stock_reimport_with_nothing_new_wakes_nobody,
    test_stock_same_username_on_another_platform_is_fine,
)


@pytest.fixture(autouse=True)
def plain_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The re-collected scenarios take the plain path; the COPY tests below keep COPY."""
    if request.function in PLAIN_SCENARIOS:
        monkeypatch.setattr(importing, "stock_copy_available", lambda: False)


def _run(content: str) -> importing.ImportReport:
    return stock_import(source=io.BytesIO(content.encode()), filename="s.csv", actor=None, now=NOW)


@pytest.mark.postgres
def test_copy_path_statements_do_not_grow_with_the_file(wakes: list[list[int]]) -> None:
    make_product(sku="IG")
    make_account(product=make_product(sku="IG2"), username="taken_elsewhere")

    def statements(rows: int, prefix: str) -> int:
        body = "".join(f"IG,{prefix}{i},pw{i},,,{i},,,\n" for i in range(rows))
        with CaptureQueriesContext(connection) as captured:
            report = _run(STOCK_HEADER + body)
        assert (report.ok, report.created) == (True, rows)
        return len(captured.captured_queries)

    assert statements(3, "small") == statements(3000, "large")
    assert Account.objects.filter(username__startswith="large").count() == 3000
    assert ImportBatch.objects.count() == 2


@pytest.mark.postgres
def test_copy_path_a_file_with_errors_writes_nothing_and_leaves_no_table_behind(
    wakes: list[list[int]],
) -> None:
    make_product(sku="IG")
    bad = STOCK_HEADER + "IG,ok1,pw,,,,,,\nIG,OK1,pw,,,,,,\nIG,ok2,pw,,,,,,\n"

    first = _run(bad)
    second = _run(bad)  # the staging tables of the first run are gone

    assert (
        errors_of(first)
        == errors_of(second)
        == ["line 3: duplicate username 'OK1' on instagram (first on line 2)"]
    )
    assert (first.created, first.batch_id, Account.objects.count()) == (0, None, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'inventory_stock_%'")
        assert cursor.fetchone()[0] == 0
    assert wakes == []
