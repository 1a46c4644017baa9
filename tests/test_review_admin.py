from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone

from compensation.events import CompensationEvent
from compensation.models import AccountDecision, CannedReason, Notification, ReplacementBatch
from compensation.services.review import (
    CaseAccess,
    ReviewConflict,
    claim_holder,
    decision_override,
    review_approve,
    review_case_access,
    review_claim,
    review_claims_expire,
    review_recheck,
    review_reject,
    review_release,
)
from compensation.services.roles import MANAGERS, SUPPORT_AGENTS
from inventory.models import Account, Event

from .factories.compensation import agent, manager, review_cases, waiting_batch
from .factories.inventory import make_account, make_accounts, make_product

pytestmark = pytest.mark.django_db

QUEUE = "/admin/compensation/accountdecision/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _decide_url(decision_id: int) -> str:
    return reverse("admin:compensation_accountdecision_decide", args=[decision_id])


def _snapshot(*ids: int) -> list[tuple[object, ...]]:
    return list(
        AccountDecision.objects.filter(id__in=ids)
        .order_by("id")
        .values_list(
            "decision", "reviewed", "reviewed_by", "customer_message", "claimed_by", "batch"
        )
    )


# --- roles ---------------------------------------------------------------------------------------


def test_setup_roles_is_idempotent_and_keeps_credentials_from_agents() -> None:
    call_command("setup_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = {
        g.name: sorted(g.permissions.values_list("codename", flat=True))
        for g in Group.objects.all()
    }
    Group.objects.get(name=SUPPORT_AGENTS).permissions.add(
        *Group.objects.get(name=MANAGERS).permissions.all()
    )  # drift by hand
    call_command("setup_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115
    second = {
        g.name: sorted(g.permissions.values_list("codename", flat=True))
        for g in Group.objects.all()
    }

    assert first == second and set(first) == {SUPPORT_AGENTS, MANAGERS}
    staff, boss = agent(), manager()
    for perm in (
        "compensation.review_decision",
        "compensation.view_accountdecision",
        "orders.view_order",
        "inventory.view_event",
        "compensation.view_replacementbatch",
    ):
        assert staff.has_perm(perm) and boss.has_perm(perm)
    for perm in (
        "inventory.reveal_credentials",
        "inventory.change_account",
        "inventory.view_account",
        "compensation.override_decision",
        "compensation.add_cannedreason",
        "inventory.add_account",
    ):
        assert not staff.has_perm(perm) and boss.has_perm(perm)


def test_an_agent_can_neither_see_stock_credentials_nor_override() -> None:
    case = review_cases(1, decision="rejected", rule="appears_active")[0]
    account = make_account()
    client = _client(agent())

    assert client.get(f"/admin/inventory/account/{account.id}/reveal/").status_code == 403
    assert client.post(f"/admin/inventory/account/{account.id}/reveal/").status_code == 403
    assert client.get("/admin/inventory/account/").status_code == 403
    assert client.get("/admin/compensation/cannedreason/add/").status_code == 403
    response = client.post(_decide_url(case.id), {"action": "override", "reason": "goodwill"})
    assert response.status_code == 403
    assert _snapshot(case.id) == [("rejected", False, None, "", None, None)]
    assert not Event.objects.filter(kind__in=["credentials_revealed", "override_issued"]).exists()
    with pytest.raises(PermissionDenied):
        decision_override(decision_id=case.id, actor=agent(), now=timezone.now(), reason="x")


def test_a_manager_overrides_a_refusal_with_a_mandatory_reason() -> None:
    case = review_cases(1, decision="rejected", rule="appears_active")[0]
    boss = manager()
    client = _client(boss)

    client.post(_decide_url(case.id), {"action": "override", "reason": "  "})
    assert _snapshot(case.id) == [("rejected", False, None, "", None, None)]

    response = client.post(
        _decide_url(case.id), {"action": "override", "reason": "Loyal customer, supplier fault"}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.decision, case.reviewed_by_id) == ("approved", boss.id)
    batch = ReplacementBatch.objects.get()
    assert (batch.quantity, batch.line_id, batch.approved_by_id) == (1, case.claim.line_id, boss.id)
    event = Event.objects.get(kind=CompensationEvent.OVERRIDE_ISSUED)
    assert (event.actor_id, event.message, event.batch_id) == (
        boss.id,
        "Loyal customer, supplier fault",
        batch.id,
    )
    assert event.data["previous"] == {"decision": "rejected", "rule": "appears_active"}


# --- the queue -----------------------------------------------------------------------------------


def test_queue_is_oldest_first_with_count_and_oldest_age_in_the_header() -> None:
    now = timezone.now()
    newer = review_cases(1, requested_at=now - timedelta(hours=2))[0]
    oldest = review_cases(1, requested_at=now - timedelta(days=3, hours=4))[0]
    middle = review_cases(1, requested_at=now - timedelta(days=1, hours=1))[0]
    review_cases(1, decision="rejected", rule="appears_active")  # not in the queue

    response = _client(agent()).get(QUEUE)

    assert response.status_code == 200
    assert [d.id for d in response.context["cl"].result_list] == [oldest.id, middle.id, newer.id]
    summary = response.context["queue_summary"]
    assert (summary.waiting, summary.unassigned) == (3, 3)
    assert summary.oldest_requested_at == oldest.review_requested_at
    html = response.content.decode()
    assert '<span id="queue-count">3</span>' in html
    assert '<span id="queue-oldest">3d 4h</span>' in html


def test_queue_filters() -> None:
    now = timezone.now()
    x_product = make_product(platform="x")
    old = review_cases(1, requested_at=now - timedelta(days=4), rule="profile_not_found")[0]
    day = review_cases(1, requested_at=now - timedelta(days=2))[0]
    fresh = review_cases(1, product=x_product, rule="interactions_unknown")[0]
    me, other = agent("me"), agent("other")
    review_claim(decision_id=day.id, actor=me, now=now)
    review_claim(decision_id=old.id, actor=other, now=now)
    client = _client(me)

    def ids(query: str) -> list[int]:
        return [d.id for d in client.get(f"{QUEUE}?{query}").context["cl"].result_list]

    assert ids("age=1d") == [old.id, day.id]
    assert ids("age=3d") == [old.id]
    assert ids(f"product={x_product.id}") == [fresh.id]
    assert ids("platform=x") == [fresh.id]
    assert ids("platform=instagram") == [old.id, day.id]
    assert ids("rule=profile_not_found") == [old.id]
    assert ids("claimed=mine") == [day.id]
    assert ids("claimed=unassigned") == [fresh.id]
    assert ids("claimed=others") == [old.id]


def test_the_review_page_shows_the_evidence_side_by_side() -> None:
    case = review_cases(1, rule="suspended_no_interaction")[0]
    case.request.reason = "Locked right after login"
    case.request.password_change_warning = False
    case.request.save()

    response = _client(agent()).get(f"{QUEUE}{case.id}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<strong id="case-rule">suspended_no_interaction</strong>' in html
    assert "Locked right after login" in html
    assert '"Change Password" warning: <strong>no</strong>' in html
    assert "<th>followers</th><td>250</td>" in html
    assert "240" in html  # observed followers
    assert "pw-" not in html  # never a credential


# --- claims --------------------------------------------------------------------------------------


def test_a_claimed_case_cannot_be_claimed_or_decided_by_another_agent_until_it_expires() -> None:
    case = review_cases(1)[0]
    alice, bob = agent("alice"), agent("bob")
    now = timezone.now()

    until = review_claim(decision_id=case.id, actor=alice, now=now)
    assert until == now + timedelta(minutes=15)
    with pytest.raises(ReviewConflict):
        review_claim(decision_id=case.id, actor=bob, now=now + timedelta(minutes=5))
    with pytest.raises(ReviewConflict):
        review_approve(decision_ids=[case.id], actor=bob, now=now + timedelta(minutes=5))
    with pytest.raises(ReviewConflict):
        review_reject(decision_ids=[case.id], actor=bob, now=now, customer_message="no")
    assert _snapshot(case.id) == [("manual_review", False, None, "", alice.id, None)]
    # Through the admin as well: an error message, nothing changed.
    response = _client(bob).post(_decide_url(case.id), {"action": "approve"}, follow=True)
    assert "claimed by another agent" in response.content.decode()
    assert _snapshot(case.id) == [("manual_review", False, None, "", alice.id, None)]

    # Expired: the sweep releases it, and bob can take it.
    assert review_claims_expire(now=now + timedelta(minutes=14)) == 0
    assert review_claims_expire(now=now + timedelta(minutes=15)) == 1
    assert review_claim(decision_id=case.id, actor=bob, now=now + timedelta(minutes=16))
    assert AccountDecision.objects.get(id=case.id).claimed_by_id == bob.id
    kinds = list(Event.objects.filter(account_id=case.account_id).values_list("kind", "actor"))
    assert kinds == [
        ("review_claimed", alice.id),
        ("review_released", None),
        ("review_claimed", bob.id),
    ]


def test_an_expired_claim_can_be_taken_without_the_sweep_and_released() -> None:
    case = review_cases(1)[0]
    alice, bob = agent("alice"), agent("bob")
    now = timezone.now()
    review_claim(decision_id=case.id, actor=alice, now=now)

    review_claim(decision_id=case.id, actor=bob, now=now + timedelta(minutes=20))
    assert review_release(decision_id=case.id, actor=alice, now=now) is False
    assert review_release(decision_id=case.id, actor=bob, now=now) is True
    assert _snapshot(case.id) == [("manual_review", False, None, "", None, None)]


def test_the_case_page_offers_only_what_the_claim_rule_of_the_service_accepts() -> None:
    case = review_cases(1)[0]
    alice, bob, boss = agent("alice"), agent("bob"), manager("boss")
    now = timezone.now()
    review_claim(decision_id=case.id, actor=alice, now=now)
    case.refresh_from_db()
    expired = now + timedelta(minutes=16)  # run out, not yet swept

    assert review_case_access(decision=case, actor=alice, now=now) == CaseAccess(
        claimed_by_me=True, claimed_by_other=False, can_decide=True, can_override=False
    )
    assert review_case_access(decision=case, actor=bob, now=now) == CaseAccess(
        claimed_by_me=False, claimed_by_other=True, can_decide=False, can_override=False
    )
    assert review_case_access(decision=case, actor=bob, now=expired) == CaseAccess(
        claimed_by_me=False, claimed_by_other=False, can_decide=True, can_override=False
    )
    assert claim_holder(case, now=now) == alice.id
    assert claim_holder(case, now=expired) is None
    bob_page = _client(bob).get(f"{QUEUE}{case.id}/change/").content.decode()
    assert "Claimed by alice until" in bob_page and 'value="approve"' not in bob_page
    listing = _client(bob).get(QUEUE).content.decode()
    until = formats.time_format(timezone.localtime(case.claimed_until), "TIME_FORMAT")
    assert f"alice until {until}" in listing

    review_reject(decision_ids=[case.id], actor=alice, now=now, customer_message="no")
    case.refresh_from_db()
    assert review_case_access(decision=case, actor=boss, now=now).can_override is True
    assert review_case_access(decision=case, actor=alice, now=now).can_override is False
    assert 'value="override"' in _client(boss).get(f"{QUEUE}{case.id}/change/").content.decode()


def test_claim_and_release_buttons() -> None:
    case = review_cases(1)[0]
    me = agent()
    client = _client(me)

    client.post(_decide_url(case.id), {"action": "claim"})
    assert AccountDecision.objects.get(id=case.id).claimed_by_id == me.id
    assert "You hold this case" in client.get(f"{QUEUE}{case.id}/change/").content.decode()
    client.post(_decide_url(case.id), {"action": "release"})
    assert AccountDecision.objects.get(id=case.id).claimed_by_id is None


# --- deciding ------------------------------------------------------------------------------------


def test_approve_one_case_creates_a_batch_delivered_after_commit(
    django_capture_on_commit_callbacks,
) -> None:
    cases = review_cases(2)
    me = agent()
    stock = make_accounts(1, product=cases[0].account.product)

    with django_capture_on_commit_callbacks(execute=True):
        response = _client(me).post(
            _decide_url(cases[0].id), {"action": "approve", "note": "profile shows a ban"}
        )

    assert response.status_code == 302
    first, second = AccountDecision.objects.filter(id__in=[c.id for c in cases]).order_by("id")
    assert (first.decision, first.reviewed, first.reviewed_by_id, first.review_note) == (
        "approved",
        True,
        me.id,
        "profile shows a ban",
    )
    assert second.decision == "manual_review"
    batch = ReplacementBatch.objects.get()
    assert (batch.quantity, batch.line_id, batch.state) == (1, first.claim.line_id, "delivered")
    assert list(Account.objects.filter(replacement_batch=batch).values_list("id", flat=True)) == [
        stock[0].id
    ]
    # One e-mail for the review and the delivery it caused, due at the end of the review window.
    assert list(Notification.objects.values_list("kind", flat=True)) == ["request_update"]
    event = Event.objects.get(kind="review_decided")
    assert (event.actor_id, event.account_id) == (me.id, first.account_id)


def test_bulk_approve_with_a_note_makes_one_batch_per_line() -> None:
    line_a = review_cases(2)
    line_b = review_cases(1)
    untouched = review_cases(1)[0]
    me = agent()
    client = _client(me)
    ids = [c.id for c in [*line_a, *line_b]]

    form = client.post(QUEUE, {"action": "approve_selected", "_selected_action": ids})
    assert form.status_code == 200 and b"Approve the selected cases" in form.content
    assert _snapshot(*ids) == [("manual_review", False, None, "", None, None)] * 3

    client.post(
        QUEUE,
        {
            "action": "approve_selected",
            "_selected_action": ids,
            "apply": "1",
            "note": "bulk: supplier ban wave",
        },
    )

    assert set(
        AccountDecision.objects.filter(id__in=ids).values_list(
            "decision", "reviewed_by", "review_note"
        )
    ) == {("approved", me.id, "bulk: supplier ban wave")}
    assert sorted(ReplacementBatch.objects.values_list("line_id", "quantity")) == sorted(
        [(line_a[0].claim.line_id, 2), (line_b[0].claim.line_id, 1)]
    )
    assert AccountDecision.objects.get(id=untouched.id).decision == "manual_review"
    assert Notification.objects.filter(kind="request_update").count() == 2  # two requests


def test_bulk_reject_needs_a_reason_for_the_customer() -> None:
    cases = review_cases(2)
    ids = [c.id for c in cases]
    canned = CannedReason.objects.create(text="The account was used after delivery.")
    me = agent()
    client = _client(me)

    response = client.post(
        QUEUE, {"action": "reject_selected", "_selected_action": ids, "apply": "1", "note": "x"}
    )
    assert b"A rejection needs a reason the customer will read." in response.content
    assert _snapshot(*ids) == [("manual_review", False, None, "", None, None)] * 2
    with pytest.raises(ValueError):
        review_reject(decision_ids=ids, actor=me, now=timezone.now(), customer_message=" ")

    client.post(
        QUEUE,
        {
            "action": "reject_selected",
            "_selected_action": ids,
            "apply": "1",
            "canned_reason": canned.id,
            "note": "checked both",
        },
    )

    assert _snapshot(*ids) == [("rejected", True, me.id, canned.text, None, None)] * 2
    assert not ReplacementBatch.objects.exists()
    assert (
        list(Event.objects.filter(kind="review_decided").values_list("actor", "message"))
        == [(me.id, f"rejected — {canned.text}")] * 2
    )
    assert Notification.objects.filter(kind="request_update").count() == 1
    # Nothing of the line qualified: its compensation is not used up.
    assert cases[0].claim.__class__.objects.get(id=cases[0].claim_id).uses_compensation is False


def test_bulk_decision_is_all_or_nothing_when_one_case_is_not_open() -> None:
    free = review_cases(1)[0]
    held = review_cases(1)[0]
    review_claim(decision_id=held.id, actor=agent("alice"), now=timezone.now())
    bob = agent("bob")

    response = _client(bob).post(
        QUEUE,
        {"action": "approve_selected", "apply": "1", "_selected_action": [free.id, held.id]},
        follow=True,
    )

    assert "Nothing approved" in response.content.decode()
    assert AccountDecision.objects.get(id=free.id).decision == "manual_review"
    assert not ReplacementBatch.objects.exists()


def test_decided_cases_are_read_only() -> None:
    case = review_cases(1)[0]
    me = agent()
    review_reject(
        decision_ids=[case.id], actor=me, now=timezone.now(), customer_message="Used after delivery"
    )
    before = _snapshot(case.id)
    client = _client(me)

    page = client.get(f"{QUEUE}{case.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="read-only-note"' in html and 'value="approve"' not in html
    assert client.post(f"{QUEUE}{case.id}/change/", {}).status_code == 403
    client.post(_decide_url(case.id), {"action": "approve"})
    with pytest.raises(ReviewConflict):
        review_approve(decision_ids=[case.id], actor=me, now=timezone.now())
    assert _snapshot(case.id) == before
    assert Event.objects.filter(kind="review_decided").count() == 1


def test_recheck_stores_the_new_observation_and_leaves_the_decision(status_double: Any) -> None:
    case = review_cases(1)[0]
    me = agent()
    account = case.account
    status_double.set_profile(
        account.platform, account.username, state="locked", user_id=account.platform_user_id
    )
    response = _client(me).post(_decide_url(case.id), {"action": "recheck"}, follow=True)

    assert "Status re-checked: locked" in response.content.decode()
    assert status_double.count(account.platform, account.username) == 1
    assert status_double.total_requests == 1
    case.refresh_from_db()
    assert case.decision == "manual_review"
    entry = case.evidence["rechecks"][0]
    assert entry["observation"]["state"] == "locked"
    assert entry["rules_would_say"]["rule"] == "locked_no_interaction"
    assert case.evidence["rule"] == "suspended_no_interaction"  # the original evidence is kept
    assert Event.objects.filter(account_id=case.account_id, actor=me).count() == 1
    review_reject(decision_ids=[case.id], actor=me, now=timezone.now(), customer_message="n")
    with pytest.raises(ReviewConflict):  # decided: no more re-checks
        review_recheck(decision_id=case.id, actor=me, now=timezone.now())
    assert status_double.total_requests == 1


# --- requests and batches ------------------------------------------------------------------------


def test_request_page_shows_claims_decisions_and_the_audit_trail() -> None:
    case = review_cases(1)[0]
    me = agent("carol")
    review_claim(decision_id=case.id, actor=me, now=timezone.now())

    response = _client(me).get(f"/admin/compensation/compensationrequest/{case.request_id}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="audit-trail"' in html and "review_claimed" in html and "carol" in html
    assert "suspended_no_interaction" in html
    assert (
        _client(me)
        .post(f"/admin/compensation/compensationrequest/{case.request_id}/change/", {})
        .status_code
        == 403
    )


def test_batch_list_shows_the_queue_per_product() -> None:
    product = make_product(sku="IG-AGED", name="Instagram aged")
    make_accounts(2, product=product)
    t0 = timezone.now() - timedelta(days=2)
    waiting_batch(product=product, quantity=3, approved_at=t0)
    waiting_batch(product=product, quantity=2, approved_at=t0 + timedelta(hours=1))

    response = _client(agent()).get("/admin/compensation/replacementbatch/")

    rows = response.context["product_queue"]
    assert len(rows) == 1
    q = rows[0]["q"]
    assert (
        q.sku,
        q.batches_waiting,
        q.accounts_needed,
        q.next_batch_quantity,
        q.in_stock,
        q.shortfall,
        q.oldest_approved_at,
    ) == ("IG-AGED", 2, 5, 3, 2, 3, t0)
    assert rows[0]["waiting_for"] == "2d 0h"
