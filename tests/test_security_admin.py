"""Back-office security: CSRF on every state-changing custom admin view, permission checks inside
those views (not only on the changelist), and an import preview bound to the staff member who
uploaded it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from compensation.models import AccountDecision, Decision
from inventory.crypto import Credentials, credentials_seal
from inventory.models import Account, Event, ImportBatch, Product
from orders.links import order_link_issue
from orders.models import OrderLink

from .factories.compensation import agent, manager, review_cases
from .factories.inventory import AccountFactory
from .factories.orders import delivered_line

pytestmark = pytest.mark.django_db
UPLOAD = "admin:inventory_importbatch_upload"


@pytest.fixture
def upload_dir(tmp_path: Path, settings: Any) -> Path:
    settings.IMPORT_UPLOAD_DIR = tmp_path / "pending"
    return cast(Path, settings.IMPORT_UPLOAD_DIR)


def _client(user: User, *, csrf: bool) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _preview_token(client: Client, content: bytes) -> str:
    response = client.post(
        reverse(UPLOAD, args=["products"]), {"file": SimpleUploadedFile("p.csv", content)}
    )
    assert response.status_code == 200
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match is not None
    return match.group(1)


def _decision_state(decision: AccountDecision) -> tuple[Any, ...]:
    row = AccountDecision.objects.get(pk=decision.pk)
    return (row.decision, row.claimed_by_id, row.claimed_until, row.reviewed)


# --- CSRF ----------------------------------------------------------------------------------------
def test_reveal_without_csrf_token_is_refused_and_reveals_nothing() -> None:
    account = AccountFactory.create(
        credentials_sealed=credentials_seal(Credentials(password="csrf-S3CRET-1"))
    )
    client = _client(manager("m-csrf"), csrf=True)
    response = client.post(reverse("admin:inventory_account_reveal", args=[account.pk]))
    assert response.status_code == 403
    assert b"csrf-S3CRET-1" not in response.content
    assert not Event.objects.exists()


@pytest.mark.parametrize("action", ["claim", "approve", "reject", "override", "recheck"])
def test_decide_view_without_csrf_token_changes_nothing(action: str) -> None:
    decision = review_cases(1)[0]
    if action == "override":
        AccountDecision.objects.filter(pk=decision.pk).update(decision=Decision.REJECTED)
    before = _decision_state(decision)
    client = _client(manager("m-decide"), csrf=True)
    response = client.post(
        reverse("admin:compensation_accountdecision_decide", args=[decision.pk]),
        {
            "action": action,
            "message": "Your account was used after delivery.",
            "reason": "goodwill",
        },
    )
    assert response.status_code == 403
    assert _decision_state(decision) == before
    assert not Event.objects.exists()


def test_bulk_actions_without_csrf_token_change_nothing() -> None:
    decision = review_cases(1)[0]
    before = _decision_state(decision)
    client = _client(manager("m-bulk"), csrf=True)
    response = client.post(
        reverse("admin:compensation_accountdecision_changelist"),
        {"action": "approve_selected", "_selected_action": [decision.pk], "apply": "1"},
    )
    assert response.status_code == 403
    assert _decision_state(decision) == before

    account = AccountFactory.create()
    response = client.post(
        reverse("admin:inventory_account_changelist"),
        {"action": "retire_selected", "_selected_action": [account.pk]},
    )
    assert response.status_code == 403
    assert Account.objects.get(pk=account.pk).state == Account.State.IN_STOCK


def test_link_revocation_without_csrf_token_changes_nothing() -> None:
    line = delivered_line()

    order_link_issue(order=line.order, now=timezone.now())
    link = OrderLink.objects.get()
    client = _client(manager("m-links"), csrf=True)
    response = client.post(
        reverse("admin:orders_orderlink_changelist"),
        {"action": "revoke_links", "_selected_action": [link.pk]},
    )
    assert response.status_code == 403
    assert OrderLink.objects.get(pk=link.pk).revoked_at is None


def test_import_upload_and_confirm_without_csrf_token_import_nothing(upload_dir: Path) -> None:
    boss = manager("m-import")
    token = _preview_token(_client(boss, csrf=False), b"sku,name,platform\nNEW,New,x\n")
    strict = _client(boss, csrf=True)
    confirm = strict.post(reverse(UPLOAD, args=["products"]), {"token": token})
    assert confirm.status_code == 403
    upload = strict.post(
        reverse(UPLOAD, args=["products"]),
        {"file": SimpleUploadedFile("p.csv", b"sku,name,platform\nB,B,x\n")},
    )
    assert upload.status_code == 403
    assert not Product.objects.exists() and not ImportBatch.objects.exists()
    assert len(list(upload_dir.glob("*.bin"))) == 1  # the preview is still there to confirm


# --- permissions inside the custom views --------------------------------------------------------
def test_agent_cannot_override_nor_import_nor_reveal() -> None:
    decision = review_cases(1)[0]
    AccountDecision.objects.filter(pk=decision.pk).update(decision=Decision.REJECTED)
    before = _decision_state(decision)
    client = _client(agent("a-perm"), csrf=False)
    override = client.post(
        reverse("admin:compensation_accountdecision_decide", args=[decision.pk]),
        {"action": "override", "reason": "goodwill"},
    )
    assert override.status_code == 403
    assert _decision_state(decision) == before
    for kind in ("products", "stock", "orders"):
        assert client.get(reverse(UPLOAD, args=[kind])).status_code == 403
    assert client.get(reverse(UPLOAD, args=["nope"])).status_code == 403
    assert not Event.objects.exists()


def test_staff_without_review_permission_cannot_decide() -> None:
    decision = review_cases(1)[0]
    before = _decision_state(decision)
    bare = User.objects.create_user("bare", password="x", is_staff=True)
    client = _client(bare, csrf=False)
    for action in ("claim", "approve", "reject", "override", "recheck", "release"):
        response = client.post(
            reverse("admin:compensation_accountdecision_decide", args=[decision.pk]),
            {"action": action, "message": "x" * 30, "reason": "r"},
        )
        assert response.status_code == 403, action
    assert client.get(
        reverse("admin:compensation_accountdecision_decide", args=[decision.pk])
    ).status_code in (403, 405)
    assert _decision_state(decision) == before
    assert not Event.objects.exists()


def test_custom_admin_views_need_a_staff_login() -> None:
    account = AccountFactory.create()
    decision = review_cases(1)[0]
    anonymous = Client()
    for url in (
        reverse("admin:inventory_account_reveal", args=[account.pk]),
        reverse("admin:compensation_accountdecision_decide", args=[decision.pk]),
        reverse(UPLOAD, args=["stock"]),
    ):
        for response in (anonymous.get(url), anonymous.post(url, {"action": "claim"})):
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("admin:login"))
    assert not Event.objects.exists()


# --- the import preview belongs to the uploader -------------------------------------------------
def test_another_staff_member_cannot_confirm_someone_elses_preview(upload_dir: Path) -> None:
    alice, bob = manager("alice"), manager("bob")
    alice_client = _client(alice, csrf=False)
    token = _preview_token(alice_client, b"sku,name,platform\nNEW,New,x\n")

    stolen = _client(bob, csrf=False).post(reverse(UPLOAD, args=["products"]), {"token": token})
    assert stolen.status_code == 302
    assert stolen["Location"] == reverse(UPLOAD, args=["products"])  # "upload it again"
    assert not Product.objects.exists() and not ImportBatch.objects.exists()
    assert len(list(upload_dir.glob("*.bin"))) == 1  # alice's preview is untouched

    mine = alice_client.post(reverse(UPLOAD, args=["products"]), {"token": token})
    assert mine.status_code == 302
    assert list(Product.objects.values_list("sku", flat=True)) == ["NEW"]
    assert ImportBatch.objects.get().actor_id == alice.pk


def test_a_preview_token_cannot_be_confirmed_as_another_kind(upload_dir: Path) -> None:
    boss = manager("m-kind")
    client = _client(boss, csrf=False)
    token = _preview_token(client, b"sku,name,platform\nNEW,New,x\n")
    response = client.post(reverse(UPLOAD, args=["stock"]), {"token": token})
    assert response.status_code == 302
    assert not Product.objects.exists() and not Account.objects.exists()


def test_a_forged_token_cannot_reach_outside_the_upload_directory(
    upload_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "victim.bin"
    outside.write_bytes(b"keep me")
    client = _client(manager("m-forge"), csrf=False)
    for token in ("../victim", "../../victim", str(outside.with_suffix(""))):
        response = client.post(reverse(UPLOAD, args=["products"]), {"token": token})
        assert response.status_code == 302
    assert outside.read_bytes() == b"keep me"
    assert not ImportBatch.objects.exists()
