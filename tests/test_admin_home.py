"""The admin home shows the work (with SLA breaches in red), the 403 page offers a way back, and
the reveal page's own POST passes CSRF with the Origin a browser sends while a cross-site one
fails."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from compensation.admin.display import age_display
from compensation.dashboard import work_summary
from compensation.error_views import permission_denied
from compensation.models import Decision
from inventory.crypto import Credentials, credentials_seal
from inventory.models import Event, ImportBatch

from .factories.compensation import agent, manager, review_cases, waiting_batch
from .factories.inventory import AccountFactory, make_accounts, make_product

pytestmark = pytest.mark.django_db


def _client(user: Any, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _row(html: str, row_id: str) -> str:
    start = html.index(f'id="{row_id}"')
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


@pytest.fixture
def work(settings: Any) -> dict[str, Any]:
    settings.REVIEW_SLA_HOURS = 24
    now = timezone.now()
    review_cases(2, requested_at=now - timedelta(hours=30))  # over the SLA
    review_cases(1, requested_at=now - timedelta(hours=2))
    unverified = review_cases(1, decision=Decision.UNVERIFIED)  # received 5 minutes ago
    product = make_product(sku="IG-AGED", name="Instagram account, aged 2019")
    waiting_batch(product=product, quantity=3, approved_at=now - timedelta(hours=5))
    waiting_batch(product=product, quantity=2, approved_at=now - timedelta(hours=1))
    make_accounts(1, product=product)
    return {"now": now, "unverified": unverified}


def test_work_summary_counts_and_oldest_ages(work: dict[str, Any]) -> None:
    summary = work_summary(now=work["now"])
    assert (summary.review.count, summary.review.over_sla, summary.review_unassigned) == (3, 2, 3)
    assert age_display(summary.review.oldest_age) == "1d 6h"
    assert summary.review.breached is True
    assert (summary.unverified.count, summary.unverified.over_sla) == (1, 0)
    assert summary.unverified.breached is False
    assert (summary.batches.count, age_display(summary.batches.oldest_age)) == (2, "5h 0m")
    [product] = summary.per_product
    assert (product.queue.sku, product.queue.accounts_needed, product.queue.in_stock) == (
        "IG-AGED",
        5,
        1,
    )
    assert product.queue.shortfall == 4 and product.breached is False


def test_age_display() -> None:
    assert age_display(None) == "—"
    assert age_display(timedelta(minutes=7, seconds=59)) == "7m"
    assert age_display(timedelta(hours=4, minutes=10)) == "4h 10m"
    assert age_display(timedelta(days=2, hours=3, minutes=59)) == "2d 3h"
    assert age_display(timedelta(seconds=-5)) == "0m"


def test_admin_home_shows_the_work_with_breaches_in_red(work: dict[str, Any]) -> None:
    html = _client(agent()).get(reverse("admin:index")).content.decode()
    review = _row(html, "work-review")
    assert 'class="sla-breach"' in review
    assert re.search(
        r'<td class="num">3</td><td class="age">1d 6h</td><td class="num">2</td>', review
    )
    assert "(3 unassigned)" in review
    unverified = _row(html, "work-unverified")
    assert "sla-breach" not in unverified and '<td class="num">1</td>' in unverified
    assert "IG-AGED" in html and "<strong>4</strong>" in html  # short by 4
    assert "Compensation desk · back office" in html
    assert "Supplier and stock quality" not in html  # agents do not see the quality report


def test_managers_get_the_report_link_on_the_home(work: dict[str, Any]) -> None:
    html = _client(manager()).get(reverse("admin:index")).content.decode()
    assert reverse("backoffice_quality_report") in html


def test_the_unverified_link_filters_the_queue(work: dict[str, Any]) -> None:
    response = _client(agent()).get(
        reverse("admin:compensation_accountdecision_changelist"),
        {"queue": "all", "decision__exact": "unverified"},
    )
    assert response.status_code == 200
    assert list(response.context["cl"].queryset.values_list("pk", flat=True)) == [
        work["unverified"][0].pk
    ]


def test_import_batches_are_called_so() -> None:
    assert str(ImportBatch._meta.verbose_name_plural) == "import batches"


# --- 403 with a way back ------------------------------------------------------------------------


def test_agent_refused_the_reveal_gets_a_page_that_links_back() -> None:
    account = AccountFactory.create()
    client = _client(agent("agent-403"))
    case_page = "http://testserver" + reverse("admin:index")
    url = reverse("admin:inventory_account_reveal", args=[account.pk])
    response = client.get(url, HTTP_REFERER=case_page)
    assert response.status_code == 403
    html = response.content.decode()
    assert "You do not have access to this page" in html
    assert f'id="back-link" href="{case_page}"' in html
    assert f'id="home-link" href="{reverse("admin:index")}"' in html
    assert "agent-403" in html
    # A referrer from another site is never offered as the way back.
    other = client.get(url, HTTP_REFERER="https://evil.example/")
    assert 'id="back-link"' not in other.content.decode()
    assert not Event.objects.exists()


def test_a_customer_facing_403_links_to_the_form(rf: Any) -> None:
    request = rf.get("/somewhere/")
    request.user = type("Anon", (), {"is_active": False, "is_staff": False})()
    response = permission_denied(request)
    assert response.status_code == 403
    assert reverse("compensation:request_form") in response.content.decode()


# --- the reveal page's CSRF with real Origin headers --------------------------------------------


def _reveal_setup() -> tuple[Client, str, str]:
    account = AccountFactory.create(
        credentials_sealed=credentials_seal(Credentials(password="origin-S3CRET"))
    )
    client = _client(manager("m-origin"), csrf=True)
    url = reverse("admin:inventory_account_reveal", args=[account.pk])
    page = client.get(url)
    assert page["Referrer-Policy"] == "same-origin"  # so the browser sends its real Origin
    assert "no-store" in page["Cache-Control"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    return client, url, token.group(1)


def test_reveal_posted_from_its_own_page_passes_csrf() -> None:
    client, url, token = _reveal_setup()
    response = client.post(url, {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="http://testserver")
    assert response.status_code == 200
    assert "origin-S3CRET" in response.content.decode()
    assert Event.objects.filter(kind="credentials_revealed").count() == 1


@pytest.mark.parametrize("origin", ["null", "https://evil.example", "http://testserver.evil"])
def test_reveal_posted_cross_site_fails_even_with_the_token(origin: str) -> None:
    client, url, token = _reveal_setup()
    response = client.post(url, {"csrfmiddlewaretoken": token}, HTTP_ORIGIN=origin)
    assert response.status_code == 403
    assert "origin-S3CRET" not in response.content.decode()
    assert not Event.objects.filter(kind="credentials_revealed").exists()
