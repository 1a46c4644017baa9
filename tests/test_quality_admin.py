"""The quality report page and the retire-stock action in the back office."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from inventory.models import Account, Event

from .factories.compensation import agent, manager
from .quality_case import build_quality_case, stock_accounts

pytestmark = pytest.mark.django_db

REPORT = "/admin/reports/quality/"
RETIRE = "/admin/reports/retire-stock/"


@pytest.fixture
def case() -> dict[str, Any]:
    return build_quality_case()


def _client(user: Any, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_the_urls_are_the_named_ones() -> None:
    assert reverse("backoffice_quality_report") == REPORT
    assert reverse("backoffice_retire_stock") == RETIRE


def test_manager_sees_figures_chart_and_retire_buttons(case: dict[str, Any]) -> None:
    response = _client(manager()).get(REPORT, {"by": "supplier", "days": "all"})
    assert response.status_code == 200
    html = response.content.decode()
    table = html[html.index('id="quality-table"') :]
    alpha = table[table.index("<strong>Alpha</strong>") :]
    cells = alpha[: alpha.index("</tr>")]
    assert '<td class="num">6</td><td class="num">3</td>' in cells
    assert "50.0%" in cells and "<code>locked_no_interaction</code> (2)" in cells
    assert f"{RETIRE}?{urlencode({'supplier': 'Alpha'})}" in cells
    assert "Retire 2 in stock…" in cells
    assert "<polyline" in html and html.count("<polyline") == 2  # Alpha and Beta
    assert "Alpha, week of 10 Mar 2025: 3 of 6 failed (50.0%)" in html
    assert "https://" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # nothing external


def test_the_page_csv_is_the_commands_csv(case: dict[str, Any]) -> None:
    response = _client(manager()).get(REPORT, {"by": "product", "days": "all", "format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    streamed = cast(Iterator[bytes], response.streaming_content)  # type: ignore[attr-defined]
    body = b"".join(streamed).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["key", "delivered", "failed", "failure_rate"]
    assert [r[:4] for r in rows[1:]] == [
        ["X-FRESH", "2", "1", "0.5000"],
        ["IG-AGED", "9", "4", "0.4444"],
    ]


def test_agents_cannot_see_the_report_nor_retire(case: dict[str, Any]) -> None:
    client = _client(agent())
    assert client.get(REPORT).status_code == 403
    assert client.get(RETIRE, {"supplier": "Alpha"}).status_code == 403
    response = client.post(RETIRE, {"supplier": "Alpha", "expected": "2", "reason": "bad"})
    assert response.status_code == 403
    assert Account.objects.filter(state="retired").count() == 0


def test_retire_shows_the_count_first_then_retires_exactly_that(case: dict[str, Any]) -> None:
    client = _client(manager())
    page = client.get(RETIRE, {"supplier": "Alpha"})
    assert page.status_code == 200
    assert (
        "<strong>2</strong> accounts of supplier Alpha are in stock now." in page.content.decode()
    )
    assert Account.objects.filter(state="retired").count() == 0  # a GET changes nothing
    done = client.post(RETIRE, {"supplier": "Alpha", "expected": "2", "reason": "locked in bulk"})
    assert done.status_code == 302 and done["Location"] == REPORT
    assert sorted(Account.objects.filter(state="retired").values_list("pk", flat=True)) == sorted(
        a.pk for a in case["spare_alpha"]
    )
    assert Event.objects.filter(kind="account_retired").count() == 2


def test_retire_with_a_stale_count_changes_nothing_and_shows_the_new_count(
    case: dict[str, Any],
) -> None:
    client = _client(manager())
    stock_accounts(2, product=case["ig"], supplier="Alpha", batch=case["batches"]["IA1"])
    response = client.post(RETIRE, {"supplier": "Alpha", "expected": "2", "reason": "bad"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "4 account(s) are in stock now, not the 2 you confirmed" in html
    assert '<input type="hidden" name="expected" value="4"' in html
    assert Account.objects.filter(state="retired").count() == 0


def test_retire_by_import_batch_and_a_made_up_source(case: dict[str, Any]) -> None:
    client = _client(manager())
    batch = case["batches"]["IB1"].pk
    assert "beta-ig.csv" in client.get(RETIRE, {"import_batch": batch}).content.decode()
    assert client.get(RETIRE, {"import_batch": "x"}).status_code == 403
    assert client.get(RETIRE, {"import_batch": batch, "supplier": "Alpha"}).status_code == 403
    assert client.get(RETIRE).status_code == 403


def test_retire_needs_the_csrf_token(case: dict[str, Any]) -> None:
    client = _client(manager(), csrf=True)
    response = client.post(RETIRE, {"supplier": "Alpha", "expected": "2", "reason": "bad"})
    assert response.status_code == 403
    assert Account.objects.filter(state="retired").count() == 0
