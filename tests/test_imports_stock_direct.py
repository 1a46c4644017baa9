"""PostgreSQL's direct stock import (inventory/stock_direct.py): a file of valid new accounts goes
straight into the accounts table; any other file is left to the staging path, which must then
report and write exactly as if it had been alone. Chunks of two rows here, so that every case
also happens after the first COPY statement was written."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import stock_copy, stock_direct
from inventory.crypto import credentials_open
from inventory.import_rows import ImportReport
from inventory.importing import stock_import
from inventory.models import Account, ImportBatch

from .factories.inventory import make_account, make_product
from .test_imports import NOW, STOCK_HEADER, errors_of, snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the direct path is PostgreSQL's")
    monkeypatch.setattr(stock_direct, "CHUNK_ROWS", 2)


@pytest.fixture
def staging_seals(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The usernames whose credentials the staging path seals."""
    sealed: list[str] = []
    real = stock_copy.credentials_sealer

    def counting() -> Callable[..., str]:
        seal = real()

        def counted(*secrets: str) -> str:
            sealed.append(secrets[0])
            return seal(*secrets)

        return counted

    monkeypatch.setattr(stock_copy, "credentials_sealer", counting)
    return sealed


def _run(content: str, source: Any = None) -> ImportReport:
    return stock_import(
        source=source or io.BytesIO(content.encode()), filename="s.csv", actor=None, now=NOW
    )


def _staging_statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if stock_copy.STAGING in q["sql"]]


def test_new_accounts_go_straight_in_over_several_chunks(
    wakes: list[list[int]], staging_seals: list[str]
) -> None:
    ig = make_product(sku="IG", platform="instagram")
    x = make_product(sku="X", platform="x")
    content = STOCK_HEADER + (
        "IG,one,pw1,,one@mail.test,10,0,,farm\n"
        "X,two,pw2,7,,,,,\n"
        "IG,three, pw3 ,,,,,5,\n"
        "IG,four,pw4,,,,,,\n"
        "X,five,pw5,,,,,,farm\n"
    )

    with CaptureQueriesContext(connection) as captured:
        report = _run(content)

    assert (report.ok, report.rows_total, report.created, report.skipped) == (True, 5, 5, 0)
    assert _staging_statements(captured) == [] and staging_seals == []
    batch = ImportBatch.objects.get()
    assert (batch.pk, batch.kind, batch.sha256, batch.rows_total) == (
        report.batch_id,
        "stock",
        hashlib.sha256(content.encode()).hexdigest(),
        5,
    )
    assert (batch.rows_created, batch.rows_skipped) == (5, 0)
    rows = list(
        Account.objects.order_by("id").values_list(
            "username",
            "product",
            "platform",
            "platform_user_id",
            "supplier",
            "baseline_followers",
            "baseline_posts",
            "baseline_likes",
            "state",
            "import_batch",
        )
    )
    assert rows == [
        ("one", ig.pk, "instagram", "", "farm", 10, 0, None, "in_stock", batch.pk),
        ("two", x.pk, "x", "7", "", None, None, None, "in_stock", batch.pk),
        ("three", ig.pk, "instagram", "", "", None, None, 5, "in_stock", batch.pk),
        ("four", ig.pk, "instagram", "", "", None, None, None, "in_stock", batch.pk),
        ("five", x.pk, "x", "", "farm", None, None, None, "in_stock", batch.pk),
    ]
    opened = [credentials_open(a.credentials_sealed) for a in Account.objects.order_by("id")]
    assert [(c.password, c.email) for c in opened] == [
        ("pw1", "one@mail.test"),
        ("pw2", ""),
        (" pw3 ", ""),
        ("pw4", ""),
        ("pw5", ""),
    ]
    assert report.product_ids == sorted([ig.pk, x.pk]) and wakes == [report.product_ids]


def test_a_bad_row_after_written_chunks_writes_nothing_and_every_error_is_reported(
    wakes: list[list[int]], staging_seals: list[str]
) -> None:
    make_product(sku="IG")
    before = snapshot()
    content = STOCK_HEADER + (
        "IG,a1,pw,,,,,,\nIG,a2,pw,,,,,,\nIG,a3,pw,,,,,,\n"
        "IG,a4,pw,,,ten,,,\n"  # line 5: the direct path stops here, after two chunks
        "IG,a5,pw,,,,,,\nIG,A1,pw,,,,,,\nIG,a6,,,,,,,\n"
    )

    report = _run(content)

    assert errors_of(report) == [
        "line 5: followers must be a whole number ≥ 0 or blank, got 'ten'",
        "line 7: duplicate username 'A1' on instagram (first on line 2)",
        "line 8: password is required",
    ]
    assert (report.rows_total, report.created, report.batch_id) == (7, 0, None)
    assert snapshot() == before and wakes == []
    assert staging_seals == []  # the file was known to be rejected: nothing worth sealing


def test_a_username_repeated_chunks_later_is_reported_with_its_first_line(
    wakes: list[list[int]],
) -> None:
    make_product(sku="IG")
    before = snapshot()

    report = _run(STOCK_HEADER + "IG,a1,pw,,,,,,\nIG,a2,pw,,,,,,\nIG,a3,pw,,,,,,\nIG,A1,p,,,,,,\n")

    assert errors_of(report) == ["line 5: duplicate username 'A1' on instagram (first on line 2)"]
    assert snapshot() == before and wakes == []


def test_present_accounts_after_the_first_chunk_are_skipped_and_the_rest_written(
    wakes: list[list[int]],
) -> None:
    ig = make_product(sku="IG")
    present = make_account(product=ig, username="old")
    content = STOCK_HEADER + "IG,n1,pw,,,,,,\nIG,n2,pw,,,,,,\nIG,old,pw,,,,,,\nIG,n3,pw,,,,,,\n"

    with CaptureQueriesContext(connection) as captured:
        report = _run(content)

    assert (report.ok, report.rows_total, report.created, report.skipped) == (True, 4, 3, 1)
    assert _staging_statements(captured) != []  # the staging path wrote it
    assert list(Account.objects.order_by("id").values_list("username", "import_batch")) == [
        ("old", present.import_batch_id),
        ("n1", report.batch_id),
        ("n2", report.batch_id),
        ("n3", report.batch_id),
    ]
    batch = ImportBatch.objects.get()  # the direct path's record was rolled back with it
    assert (batch.pk, batch.rows_total, batch.rows_created, batch.rows_skipped) == (
        report.batch_id,
        4,
        3,
        1,
    )
    assert wakes == [[ig.pk]]


def test_a_source_that_cannot_be_rewound_takes_the_staging_path(wakes: list[list[int]]) -> None:
    make_product(sku="IG")

    class Stream(io.BytesIO):
        def seekable(self) -> bool:
            return False

    with CaptureQueriesContext(connection) as captured:
        report = _run("", source=Stream((STOCK_HEADER + "IG,a1,pw,,,,,,\n").encode()))

    assert (report.ok, report.created) == (True, 1)
    assert _staging_statements(captured) != []
    assert Account.objects.get().username == "a1"


def test_the_staging_path_told_the_file_is_bad_writes_nothing_if_it_finds_it_good(
    wakes: list[list[int]],
) -> None:
    """`seal=False` (the direct path met a bad row): a file that reads clean now has changed."""
    make_product(sku="IG")
    before = snapshot()
    report = ImportReport(kind="stock", filename="s.csv")

    stock_copy.stock_import_copy(
        source=io.BytesIO((STOCK_HEADER + "IG,a1,pw,,,,,,\n").encode()),
        report=report,
        products={},
        actor=None,
        now=NOW,
        progress=None,
        seal=False,
    )

    assert errors_of(report) == ["line 1: the file changed while it was being imported"]
    assert (report.created, report.batch_id) == (0, None)
    assert snapshot() == before and wakes == []
