"""On PostgreSQL a file of valid new accounts takes the direct path (stock_direct.py), so the
staging path (stock_copy.py) mostly sees files it rejects or re-imports. It still writes whatever
the direct path declines, so the stock scenarios run here again with the direct path declining
every file: same reports, same messages, same writes."""

from __future__ import annotations

import pytest
from django.db import connection

from inventory import importing
from inventory.stock_direct import Direct

from .test_imports import (  # the same scenarios, collected again here
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

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

STAGING_SCENARIOS = (  # what this module collects
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
def direct_path_declines(monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the staging path is PostgreSQL's")
    monkeypatch.setattr(importing, "stock_import_direct", lambda **kwargs: Direct.REFUSED)
