"""Quality report (docs/api.md) on a hand-built case: two suppliers, known outcomes (the
case is described in tests/quality_case.py)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone

from compensation.quality import CSV_HEADER, failure_rate, quality_report, weekly_supplier_failure
from inventory.models import Account, Event
from inventory.retiring import (
    StockCountChanged,
    StockSource,
    stock_in_source_count,
    stock_retire_source,
)

from .factories.compensation import agent
from .quality_case import NOW, build_quality_case, stock_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def case() -> dict[str, Any]:
    return build_quality_case()


def _table(rows: list[Any]) -> dict[str, tuple[int, int, str, str, int]]:
    return {
        r.key: (r.delivered, r.failed, f"{r.failure_rate:.4f}", r.top_rule, r.in_stock)
        for r in rows
    }


def test_the_replacements_came_from_the_stock_the_case_expects(case: dict[str, Any]) -> None:
    served = dict(
        Account.objects.filter(delivery_kind="compensation").values_list(
            "username", "line__order__order_id"
        )
    )
    a, b = case["a"], case["b"]
    assert served == {a[3].username: "O4", b[2].username: "O1", b[3].username: "O1"}


def test_quality_by_supplier_all_time(case: dict[str, Any]) -> None:
    rows = quality_report(by="supplier", now=NOW)
    assert _table(rows) == {
        # 3 of 6; locked_no_interaction twice (a1, c1), suspended_no_interaction once (a2)
        "Alpha": (6, 3, "0.5000", "locked_no_interaction", 2),
        # 2 of 5; one each: the tie goes to the alphabetically first rule
        "Beta": (5, 2, "0.4000", "locked_one_interaction", 1),
    }
    assert [r.key for r in rows] == ["Alpha", "Beta"]  # highest failure rate first
    assert [r.source for r in rows] == ["Alpha", "Beta"]


def test_quality_by_supplier_last_30_days_leaves_out_older_deliveries(
    case: dict[str, Any],
) -> None:
    assert _table(quality_report(by="supplier", now=NOW, days=30)) == {
        "Alpha": (6, 3, "0.5000", "locked_no_interaction", 2),
        "Beta": (4, 1, "0.2500", "locked_one_interaction", 1),
    }


def test_quality_by_product_is_keyed_by_sku(case: dict[str, Any]) -> None:
    rows = quality_report(by="product", now=NOW)
    assert _table(rows) == {
        "X-FRESH": (2, 1, "0.5000", "locked_no_interaction", 0),
        # b0 a1 a2 b2 of 9; suspended_no_interaction for b0 and a2
        "IG-AGED": (9, 4, "0.4444", "suspended_no_interaction", 3),
    }
    assert [r.name for r in rows] == ["X account, fresh", "Instagram account, aged 2019"]
    assert [r.source for r in rows] == [None, None]  # no retiring a whole product here


def test_quality_by_import_batch(case: dict[str, Any]) -> None:
    ids = {name: str(batch.pk) for name, batch in case["batches"].items()}
    rows = quality_report(by="import_batch", now=NOW)
    assert _table(rows) == {
        ids["IB0"]: (1, 1, "1.0000", "suspended_no_interaction", 0),
        ids["IA1"]: (4, 2, "0.5000", "locked_no_interaction", 2),
        ids["IA2"]: (2, 1, "0.5000", "locked_no_interaction", 0),
        ids["IB1"]: (4, 1, "0.2500", "locked_one_interaction", 1),
    }
    assert [r.key for r in rows] == [ids["IB0"], ids["IA1"], ids["IA2"], ids["IB1"]]
    assert rows[1].name == "alpha-ig.csv (" + f"{case['batches']['IA1'].created_at:%Y-%m-%d})"
    assert rows[1].source == case["batches"]["IA1"].pk


def test_weekly_failure_rate_per_supplier(case: dict[str, Any]) -> None:
    series = {
        s.supplier: [(p.week, p.delivered, p.failed, f"{p.failure_rate:.4f}") for p in s.points]
        for s in weekly_supplier_failure(now=NOW)
    }
    assert series == {
        "Alpha": [(date(2025, 3, 10), 6, 3, "0.5000")],
        # b0 was sold on Sunday 2 February: the week of Monday 27 January
        "Beta": [(date(2025, 1, 27), 1, 1, "1.0000"), (date(2025, 3, 10), 4, 1, "0.2500")],
    }


def test_failure_rate_rounds_half_up_to_four_places() -> None:
    assert failure_rate(1, 3) == Decimal("0.3333")
    assert failure_rate(2, 3) == Decimal("0.6667")
    assert failure_rate(1, 16) == Decimal("0.0625")
    assert failure_rate(1, 32) == Decimal("0.0313")  # 0.03125: half up
    assert failure_rate(0, 0) == Decimal("0.0000")


def test_quality_report_rejects_an_unknown_key() -> None:
    with pytest.raises(ValueError, match="--by must be one of supplier, product, import_batch"):
        quality_report(by="platform", now=NOW)


# --- the command ---------------------------------------------------------------------------------


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command("quality_report", *args, stdout=out)
    return out.getvalue()


def test_command_csv_has_the_stable_header_and_the_figures(
    case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    text = _command("--by", "supplier", "--format", "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["key", "delivered", "failed", "failure_rate"]
    assert rows[0] == list(CSV_HEADER)
    assert rows[1:] == [
        ["Alpha", "6", "3", "0.5000", "Alpha", "locked_no_interaction", "2", "2"],
        ["Beta", "5", "2", "0.4000", "Beta", "locked_one_interaction", "1", "1"],
    ]
    recent = list(
        csv.reader(io.StringIO(_command("--by", "supplier", "--days", "30", "--format", "csv")))
    )
    assert recent[2][:4] == ["Beta", "4", "1", "0.2500"]


def test_command_table_is_readable(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    lines = _command("--by", "product").splitlines()
    assert lines[0] == "Quality by product (all deliveries)"
    assert lines[1].split() == [
        "key",
        "delivered",
        "failed",
        "failure_rate",
        "top_rule",
        "in_stock",
        "name",
    ]
    assert lines[2].split()[:5] == ["X-FRESH", "2", "1", "0.5000", "locked_no_interaction"]
    assert lines[3].split()[:5] == ["IG-AGED", "9", "4", "0.4444", "suspended_no_interaction"]


def test_command_refuses_zero_days() -> None:
    with pytest.raises(CommandError, match="--days must be at least 1"):
        _command("--by", "supplier", "--days", "0")


# --- retiring the rest of a bad source ------------------------------------------------------------


def test_manager_retires_what_is_left_of_a_supplier_in_one_audited_step(
    case: dict[str, Any],
) -> None:
    source = StockSource(supplier="Alpha")
    assert stock_in_source_count(source=source) == 2
    retired = stock_retire_source(
        source=source, expected=2, reason="half of them got locked", actor=case["staff"], now=NOW
    )
    assert retired == 2
    spare = [a.pk for a in case["spare_alpha"]]
    assert list(Account.objects.filter(pk__in=spare).values_list("state", flat=True)) == [
        "retired",
        "retired",
    ]
    events = list(Event.objects.filter(kind="account_retired").order_by("account_id"))
    assert [e.account_id for e in events] == sorted(spare)
    assert {e.actor_id for e in events} == {case["staff"].pk}
    assert events[0].message == "retired with the rest of supplier Alpha: half of them got locked"
    assert events[0].data["retired_together"] == 2
    # Beta's spare and every delivered account are untouched.
    assert Account.objects.get(pk=case["spare_beta"][0].pk).state == "in_stock"
    assert Account.objects.filter(state="delivered").count() == 11  # 6 + 5
    assert stock_in_source_count(source=source) == 0


def test_retiring_an_import_batch_takes_only_that_batch(case: dict[str, Any]) -> None:
    source = StockSource(import_batch_id=case["batches"]["IB1"].pk)
    assert (
        stock_retire_source(
            source=source, expected=1, reason="bad batch", actor=case["staff"], now=NOW
        )
        == 1
    )
    assert Account.objects.get(pk=case["spare_beta"][0].pk).state == "retired"
    assert Account.objects.filter(state="in_stock").count() == 2  # Alpha's spares


def test_retire_refuses_when_the_count_changed_and_changes_nothing(case: dict[str, Any]) -> None:
    source = StockSource(supplier="Alpha")
    stock_accounts(
        1, product=case["ig"], supplier="Alpha", batch=case["batches"]["IA1"]
    )  # new stock
    with pytest.raises(StockCountChanged, match="3 account\\(s\\) are in stock now, not the 2"):
        stock_retire_source(source=source, expected=2, reason="bad", actor=case["staff"], now=NOW)
    assert Account.objects.filter(state="retired").count() == 0
    assert not Event.objects.filter(kind="account_retired").exists()


def test_retire_needs_the_permission_and_a_reason(case: dict[str, Any]) -> None:
    source = StockSource(supplier="Alpha")
    with pytest.raises(PermissionDenied):
        stock_retire_source(source=source, expected=2, reason="bad", actor=agent(), now=NOW)
    with pytest.raises(ValueError, match="say why"):
        stock_retire_source(source=source, expected=2, reason="  ", actor=case["staff"], now=NOW)
    assert Account.objects.filter(state="retired").count() == 0


def test_a_source_is_a_supplier_or_a_batch() -> None:
    with pytest.raises(ValueError):
        StockSource()
    with pytest.raises(ValueError):
        StockSource(supplier="A", import_batch_id=1)
    with pytest.raises(ValueError):
        StockSource(supplier=" ")
