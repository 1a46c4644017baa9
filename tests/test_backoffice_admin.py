"""The back office an agent works in (issue 11): queue search, "open next", readable names,
evidence for managers, requests summarised, order links resent and revoked, CSV exports."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from compensation.models import (
    AccountDecision,
    CannedReason,
    CompensationRequest,
    LineClaim,
    Notification,
    ReplacementBatch,
)
from compensation.selectors import request_view
from inventory.models import Event
from orders.links import order_link_issue, order_link_resolve
from orders.models import OrderLine, OrderLink

from .factories.compensation import agent, manager, review_cases
from .factories.inventory import make_product
from .factories.orders import make_order

pytestmark = pytest.mark.django_db

QUEUE = "/admin/compensation/accountdecision/"


def _client(user: Any, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _decide(case_id: int) -> str:
    return reverse("admin:compensation_accountdecision_decide", args=[case_id])


def _queue_ids(client: Client, **params: str) -> list[int]:
    response = client.get(QUEUE, params)
    return [row.pk for row in response.context["cl"].result_list]


@pytest.fixture
def queue() -> list[AccountDecision]:
    """Three cases, oldest first, on orders of three customers."""
    now = timezone.now()
    product = make_product(sku="IG-AGED", name="Instagram account, aged 2019")
    cases = []
    for number, (email, hours) in enumerate(
        (("maya@example.com", 30), ("jonas@example.de", 20), ("lena@example.com", 9))
    ):
        order = make_order(order_id=f"B{number + 1}", email=email)
        cases += review_cases(
            1, requested_at=now - timedelta(hours=hours), product=product, order=order
        )
    return cases


# --- the queue -----------------------------------------------------------------------------------


def test_queue_search_by_email_order_id_and_username(queue: list[AccountDecision]) -> None:
    client = _client(agent())
    first, second, third = queue
    assert _queue_ids(client, q="jonas@example") == [second.pk]
    assert _queue_ids(client, q="B3") == [third.pk]
    assert _queue_ids(client, q=first.account.username) == [first.pk]
    assert _queue_ids(client) == [first.pk, second.pk, third.pk]  # oldest first


def test_approve_and_open_next_claims_the_next_case_and_skips_others(
    queue: list[AccountDecision],
) -> None:
    first, second, third = queue
    ann, bob = agent("ann"), agent("bob")
    AccountDecision.objects.filter(pk=second.pk).update(
        claimed_by=bob, claimed_until=timezone.now() + timedelta(minutes=10)
    )
    client = _client(ann)
    response = client.post(
        _decide(first.pk),
        {"action": "approve", "then": "next", "customer_message": "Sorry for the wait."},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:compensation_accountdecision_change", args=[third.pk]
    )
    rows = {d.pk: d for d in AccountDecision.objects.all()}
    assert (rows[first.pk].decision, rows[first.pk].customer_message) == (
        "approved",
        "Sorry for the wait.",
    )
    assert rows[second.pk].claimed_by_id == bob.pk and rows[second.pk].decision == "manual_review"
    assert rows[third.pk].claimed_by_id == ann.pk
    # The customer reads the approval first, then the agent's words (customer_messages.py).
    view = request_view(request_id=first.request_id)
    assert view is not None
    assert view.lines[0].accounts[0].message == (
        "Our team reviewed this account and approved a replacement. Their message: “Sorry for "
        "the wait.” We are preparing your replacement of the same product now."
    )
    # The last one: nothing left for ann (bob's case is skipped) -> back to the queue.
    done = client.post(
        _decide(third.pk), {"action": "reject", "then": "next", "customer_message": "Used."}
    )
    assert done["Location"] == reverse("admin:compensation_accountdecision_changelist")
    page = client.get(done["Location"])
    assert "No more cases are waiting for you." in page.content.decode()


def test_a_refused_decision_does_not_move_on(queue: list[AccountDecision]) -> None:
    first, _, third = queue
    client = _client(agent())
    response = client.post(_decide(first.pk), {"action": "reject", "then": "next"})
    assert response["Location"] == reverse(
        "admin:compensation_accountdecision_change", args=[first.pk]
    )
    assert AccountDecision.objects.get(pk=first.pk).decision == "manual_review"
    assert AccountDecision.objects.get(pk=third.pk).claimed_by_id is None


def test_case_page_title_history_and_raw_evidence_for_managers_only(
    queue: list[AccountDecision],
) -> None:
    case = queue[0]
    url = reverse("admin:compensation_accountdecision_change", args=[case.pk])
    agent_page = _client(agent()).get(url).content.decode()
    title = f"Case #{case.pk} — instagram:{case.account.username} (IG-AGED), order B1"
    assert f"<h1>{title}</h1>" in agent_page
    assert agent_page.count(title) == 2  # the heading and the browser title, nothing else
    assert 'id="raw-evidence"' not in agent_page
    assert 'id="customer-history"' in agent_page and "maya@example.com" in agent_page
    assert 'id="evidence"' in agent_page
    manager_page = _client(manager()).get(url).content.decode()
    assert 'id="raw-evidence"' in manager_page
    assert "&quot;rule&quot;: &quot;suspended_no_interaction&quot;" in manager_page


def test_canned_reasons_are_offered_in_full(queue: list[AccountDecision]) -> None:
    text = "The account was used for posting after delivery, so the policy does not cover it."
    CannedReason.objects.create(text=text)
    assert len(text) > 60
    url = reverse("admin:compensation_accountdecision_change", args=[queue[0].pk])
    page = _client(agent()).get(url).content.decode()
    assert re.search(r'type="radio" name="canned_reason"[^>]*>\s*' + re.escape(text), page)


def test_the_bulk_page_shows_its_title_once(queue: list[AccountDecision]) -> None:
    response = _client(agent()).post(
        QUEUE, {"action": "approve_selected", "_selected_action": [c.pk for c in queue]}
    )
    html = response.content.decode()
    assert html.count("Approve the selected cases</h1>") == 1
    assert html.count("<h1") == 1
    assert f"Case #{queue[0].pk} — instagram:{queue[0].account.username} (IG-AGED)" in html


def test_readable_names_never_bare_ids(queue: list[AccountDecision]) -> None:
    case = queue[0]
    request = case.request
    line = OrderLine.objects.get(pk=case.claim.line_id)
    batch = ReplacementBatch.objects.create(
        line=line, product=line.product, request=request, quantity=2, approved_at=timezone.now()
    )
    token = order_link_issue(order=line.order, now=timezone.now())
    assert token
    assert str(case) == f"case #{case.pk}: instagram:{case.account.username}"
    assert str(request).startswith("request for order B1 of ")
    assert str(line) == "B1 / IG-AGED × 1"
    assert str(LineClaim.objects.get(pk=case.claim_id)) == "claim of B1 / IG-AGED × 1"
    assert str(batch) == f"batch #{batch.pk}: 2 × IG-AGED for order B1"
    assert str(OrderLink.objects.get()).startswith("link for order B1 created ")
    assert str(CannedReason(text="x" * 80)) == "x" * 80


# --- requests ------------------------------------------------------------------------------------


def test_request_list_says_waiting_for_a_person_and_the_page_sums_up(
    queue: list[AccountDecision],
) -> None:
    request = queue[0].request
    assert request.status == "decided"  # the API's meaning: no check is running any more
    client = _client(agent())
    listing = client.get("/admin/compensation/compensationrequest/").content.decode()
    row = listing[listing.index(">B1<") :]
    row = row[: row.index("</tr>")]
    assert "Waiting for a person" in row and "1 waiting" in row
    page = client.get(
        reverse("admin:compensation_compensationrequest_change", args=[request.pk])
    ).content.decode()
    assert '<span id="summary-waiting" class="sla-near">1 waiting for a person</span>' in page
    assert '<span id="summary-approved">0 approved</span>' in page
    assert '<span id="summary-delivered">0 delivered</span>' in page


def test_staff_resend_the_order_link_with_an_audit_event(queue: list[AccountDecision]) -> None:
    request = queue[0].request
    order = request.order
    someone = agent("ann")
    back = reverse("admin:compensation_compensationrequest_change", args=[request.pk])
    url = reverse("admin:orders_order_resend_link", args=[order.pk])
    assert _client(someone).get(url).status_code == 405
    response = _client(someone).post(url, {"back": back})
    assert response.status_code == 302 and response["Location"] == back
    notification = Notification.objects.get(kind="order_link")
    assert (notification.to, notification.order_id) == ("maya@example.com", order.pk)
    event = Event.objects.get(kind="order_link_resent")
    assert (event.actor_id, event.order_id) == (someone.pk, order.pk)
    # A foreign "back" is never followed.
    elsewhere = _client(someone).post(url, {"back": "https://evil.example/"})
    assert elsewhere["Location"] == reverse("admin:orders_order_change", args=[order.pk])
    # Without the CSRF token nothing is sent.
    before = Notification.objects.count()
    assert _client(someone, csrf=True).post(url).status_code == 403
    assert Notification.objects.count() == before
    assert len(mail.outbox) == 0  # sent after commit by the task, not in the request


def test_links_show_last_use_and_revoke_one_or_all(queue: list[AccountDecision]) -> None:
    order = queue[0].request.order
    now = timezone.now()
    first_token = order_link_issue(order=order, now=now - timedelta(days=2))
    order_link_issue(order=order, now=now - timedelta(days=1))
    order_link_issue(order=order, now=now)
    assert order_link_resolve(token=first_token, now=now) is not None
    first, second, _newest = OrderLink.objects.order_by("created_at")
    assert first.last_used_at == now and second.last_used_at is None
    boss = manager("boss")
    page = _client(boss).get(reverse("admin:orders_order_change", args=[order.pk])).content
    html = page.decode()
    assert html.count("Revoke this link") == 3 and 'id="revoke-all-links"' in html
    assert html.count(">never<") == 2
    revoke = reverse("admin:orders_order_revoke_links", args=[order.pk])
    assert _client(agent()).post(revoke, {"link": str(second.pk)}).status_code == 403
    assert _client(boss).post(revoke, {"link": str(second.pk)}).status_code == 302
    assert (
        list(OrderLink.objects.order_by("created_at").values_list("revoked_at", flat=True))[1]
        is not None
    )
    assert OrderLink.objects.filter(revoked_at__isnull=True).count() == 2
    _client(boss).post(revoke, {"link": "all"})
    assert not OrderLink.objects.filter(revoked_at__isnull=True).exists()
    assert Event.objects.filter(kind="link_revoked", actor=boss).count() == 3
    assert order_link_resolve(token=first_token, now=now) is None


# --- CSV exports ---------------------------------------------------------------------------------


def _download(response: Any) -> list[list[str]]:
    streamed = cast(Iterator[bytes], response.streaming_content)
    return list(csv.reader(io.StringIO(b"".join(streamed).decode())))


def test_queue_and_requests_export_as_csv_with_formulas_neutralised(
    queue: list[AccountDecision],
) -> None:
    CompensationRequest.objects.filter(pk=queue[0].request_id).update(reason="=1+2")
    client = _client(agent())
    rows = _download(
        client.post(QUEUE, {"action": "export_csv", "_selected_action": [c.pk for c in queue]})
    )
    assert rows[0][:3] == ["case", "in_queue_since_utc", "waiting_hours"]
    assert [r[0] for r in rows[1:]] == [str(c.pk) for c in queue]
    assert rows[1][-1] == "'=1+2"
    requests = _download(
        client.post(
            "/admin/compensation/compensationrequest/",
            {"action": "export_csv", "_selected_action": [str(c.request_id) for c in queue]},
        )
    )
    assert requests[0][:5] == ["request", "order", "customer_email", "received_utc", "state"]
    assert sorted(r[1] for r in requests[1:]) == ["B1", "B2", "B3"]
    assert {r[4] for r in requests[1:]} == {"Waiting for a person"}
