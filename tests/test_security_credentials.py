"""Secrets stay secret: account credentials never show up anywhere but the two reveal pages.

One scenario walks every place a credential could leak through: an admin stock import (preview
and confirm), an order delivered with those accounts, a fresh order-page link e-mailed through
the task queue, the customer's reveal on the order page and a manager's reveal in the admin.
Then every admin page a Support agent, a Manager and a superuser can open is crawled, every row
of every table is scanned (events, notifications, django-q tasks, …), and every e-mail and log
line is read: no plaintext credential anywhere except the two reveal answers.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter

from compensation.models import Decision
from compensation.services.notifications import order_link_resend
from inventory.crypto import Credentials, _current, credentials_open, credentials_seal
from inventory.events import InventoryEvent
from inventory.models import Account, Event, ImportBatch

from .factories.compensation import agent, manager, review_cases
from .factories.inventory import AccountFactory, ProductFactory
from .factories.orders import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db

# The imported account's secrets and the delivered account's secrets (all distinct, all unusual).
IMPORTED = Credentials(
    password="Imp0rt-pw-S3CRET-41",
    email="imported.box.q7@mail.test",
    email_password="imp-mbx-S3CRET-8",
    two_factor_secret="IMPT2FAS3CRETQQQ",
    notes="imp-note-S3CRET-recovery-55",
)
DELIVERED = Credentials(
    password="D3liv-pw-S3CRET-92",
    email="delivered.box.z3@mail.test",
    email_password="dlv-mbx-S3CRET-6",
    two_factor_secret="DLVR2FAS3CRETZZZ",
    notes="dlv-note-S3CRET-recovery-77",
)
SECRETS = tuple(
    value
    for creds in (IMPORTED, DELIVERED)
    for value in (
        creds.password,
        creds.email,
        creds.email_password,
        creds.two_factor_secret,
        creds.notes,
    )
)


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.fixture
def upload_dir(tmp_path: Path, settings: Any) -> Path:
    settings.IMPORT_UPLOAD_DIR = tmp_path / "pending"
    return cast(Path, settings.IMPORT_UPLOAD_DIR)


def _client(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _stock_csv(product_sku: str) -> bytes:
    c = IMPORTED
    return (
        "sku,username,password,email,email_password,two_factor_secret,notes\n"
        f"{product_sku},imported_one,{c.password},{c.email},{c.email_password},"
        f"{c.two_factor_secret},{c.notes}\n"
    ).encode()


def _preview(client: Client, kind: str, content: bytes, name: str = "stock.csv") -> str:
    response = client.post(
        reverse("admin:inventory_importbatch_upload", args=[kind]),
        {"file": SimpleUploadedFile(name, content)},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert _leaks(html) == []
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match is not None, html
    return match.group(1)


def _world(django_capture_on_commit_callbacks: Any, upload_dir: Path) -> dict[str, Any]:
    """Run every path that handles credentials once; returns what the crawl needs."""
    boss = manager("boss")
    boss_client = _client(boss)
    product = ProductFactory.create(sku="IG-SEC")

    # 1. A stock import through the admin: preview, then confirm.
    token = _preview(boss_client, "stock", _stock_csv(product.sku))
    with django_capture_on_commit_callbacks(execute=True):
        done = boss_client.post(
            reverse("admin:inventory_importbatch_upload", args=["stock"]), {"token": token}
        )
    assert done.status_code == 302
    imported = Account.objects.get(username="imported_one")
    assert credentials_open(imported.credentials_sealed) == IMPORTED

    # 2. An order delivered with an account holding the other secrets, and a review case on it.
    order = OrderFactory.create()
    line = OrderLineFactory.create(order=order, product=product)
    delivered = AccountFactory.create(
        product=product,
        username="delivered_one",
        state=Account.State.DELIVERED,
        line=line,
        delivered_at=order.placed_at,
        delivery_kind=Account.DeliveryKind.SALE,
        credentials_sealed=credentials_seal(DELIVERED),
    )
    case = review_cases(1, decision=Decision.MANUAL_REVIEW)[0]

    # 3. A fresh order-page link, e-mailed through the task queue (sync in tests).
    with django_capture_on_commit_callbacks(execute=True):
        order_link_resend(order_id=order.order_id, now=timezone.now())
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/orders/link/[^/\s]+/", str(mail.outbox[0].body))
    assert link is not None
    path = link.group(0).split("://", 1)[1].split("/", 1)[1]
    page = f"/{path}"

    # 4. The customer opens the page (no credentials), then presses the button (credentials).
    customer = Client()
    assert _leaks(customer.get(page).content.decode()) == []
    revealed = customer.post(page).content.decode()
    assert {DELIVERED.password, DELIVERED.two_factor_secret} <= set(_leaks(revealed))
    assert _leaks(customer.get(page).content.decode()) == []  # not remembered anywhere

    # 5. A manager reveals the imported account in the admin (a POST).
    reveal_url = reverse("admin:inventory_account_reveal", args=[imported.pk])
    assert _leaks(boss_client.get(reveal_url).content.decode()) == []
    shown = boss_client.post(reveal_url).content.decode()
    assert {IMPORTED.password, IMPORTED.email_password} <= set(_leaks(shown))

    return {
        "order": order,
        "delivered": delivered,
        "imported": imported,
        "case": case,
        "page": page,
        "boss": boss,
    }


def _admin_urls(objects_per_model: int = 3) -> list[str]:
    """Every GET page of every registered model admin: changelist, a search for each secret,
    change, history and delete pages of a few objects, plus the custom pages."""
    urls = [reverse("admin:index"), reverse("admin:password_change")]
    for model in admin.site._registry:
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        urls.append(reverse("admin:app_list", args=[opts.app_label]))
        changelist = reverse(f"{prefix}_changelist")
        urls.append(changelist)
        urls.extend(f"{changelist}?q={secret}" for secret in SECRETS[:3])
        with contextlib.suppress(NoReverseMatch):
            urls.append(reverse(f"{prefix}_add"))
        pks = model._default_manager.order_by("pk").values_list("pk", flat=True)
        for pk in pks[:objects_per_model]:
            for view in ("change", "history", "delete"):
                urls.append(reverse(f"{prefix}_{view}", args=[pk]))
    for account_pk in Account.objects.values_list("pk", flat=True):
        urls.append(reverse("admin:inventory_account_reveal", args=[account_pk]))
    for kind in ("products", "stock", "orders"):
        urls.append(reverse("admin:inventory_importbatch_upload", args=[kind]))
    return urls


def _crawl(client: Client) -> dict[int, int]:
    statuses: dict[int, int] = {}
    for url in _admin_urls():
        response = client.get(url)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (200, 302, 403, 404), (url, response.status_code)
        body = response.content.decode(errors="replace")
        searched = url.partition("?q=")[2]
        if searched:  # the search box shows the term typed; nothing must be found by it
            body = body.replace(searched, "")
            assert "imported_one" not in body and "delivered_one" not in body, url
        assert _leaks(body) == [], url
        for account in Account.objects.all():
            assert account.credentials_sealed not in body, url
    return statuses


def test_no_credentials_on_any_admin_page_nor_in_any_row_mail_or_log(
    django_capture_on_commit_callbacks: Any, upload_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = _world(django_capture_on_commit_callbacks, upload_dir)

    # Every admin page, for each kind of staff (GET: nothing is revealed without a POST).
    superuser = User.objects.create_superuser("root", password="x")
    statuses = {
        "agent": _crawl(_client(agent("agent-smith"))),
        "manager": _crawl(_client(world["boss"])),
        "superuser": _crawl(_client(superuser)),
    }
    assert statuses["superuser"].get(200, 0) > 40  # the crawl really opened pages

    # Every row of every table (events, notifications, tasks and their arguments, sessions …).
    for model in apps.get_models():
        for row in model._default_manager.all().values():
            assert _leaks(repr(row)) == [], (model, row)
    reveals = Event.objects.filter(kind=InventoryEvent.CREDENTIALS_REVEALED)
    assert reveals.count() == 2

    # Every e-mail and every log line.
    for message in mail.outbox:
        parts = [
            str(message.subject),
            str(message.body),
            *(str(content) for content, _mime in getattr(message, "alternatives", [])),
        ]
        assert _leaks("\n".join(parts)) == []
    assert caplog.records, "the scenario logged nothing at all: the check would be empty"
    for record in caplog.records:
        assert _leaks(record.getMessage()) == [], record.getMessage()


def test_a_support_agent_gets_403_on_every_credentials_path() -> None:
    account = AccountFactory.create(credentials_sealed=credentials_seal(DELIVERED))
    client = _client(agent("agent-jones"), csrf=False)
    reveal = reverse("admin:inventory_account_reveal", args=[account.pk])
    for response in (
        client.get(reveal),
        client.post(reveal),
        client.get(reverse("admin:inventory_account_changelist")),
        client.get(reverse("admin:inventory_account_change", args=[account.pk])),
        client.get(reverse("admin:inventory_importbatch_upload", args=["stock"])),
        client.post(
            reverse("admin:inventory_importbatch_upload", args=["stock"]),
            {"file": SimpleUploadedFile("s.csv", b"sku,username,password\n")},
        ),
    ):
        assert response.status_code == 403
        assert _leaks(response.content.decode()) == []
    assert not Event.objects.exists()


def test_reveal_view_checks_the_permission_not_only_the_changelist() -> None:
    """A staff user who may view and change accounts but lacks reveal_credentials is refused."""
    account = AccountFactory.create(credentials_sealed=credentials_seal(DELIVERED))
    user = User.objects.create_user("viewer", password="x", is_staff=True)

    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="inventory", codename__in=["view_account", "change_account"]
        )
    )
    client = _client(User.objects.get(pk=user.pk))
    assert (
        client.get(reverse("admin:inventory_account_change", args=[account.pk])).status_code == 200
    )
    response = client.post(reverse("admin:inventory_account_reveal", args=[account.pk]))
    assert response.status_code == 403
    assert _leaks(response.content.decode()) == []
    assert not Event.objects.exists()


def test_credentials_repr_and_an_error_report_never_show_the_plaintext(settings: Any) -> None:
    settings.DEBUG = False
    assert _leaks(repr(DELIVERED) + str(DELIVERED) + repr([DELIVERED])) == []
    # A sealed value in an unexpected shape (e.g. written by a newer version with another field).
    token = (
        _current()
        .encrypt(b'{"password": "' + DELIVERED.password.encode() + b'", "unexpected": 1}')
        .decode()
    )
    try:
        credentials_open(token)
    except ValueError:
        report = ExceptionReporter(None, *sys.exc_info())
        text = report.get_traceback_text()
        html = report.get_traceback_html()
    else:  # pragma: no cover - the format error must raise
        pytest.fail("credentials_open accepted an unknown field")
    assert "decrypted credentials are not in the expected format" in text
    assert DELIVERED.password not in text
    assert DELIVERED.password not in html


def test_import_errors_do_not_echo_the_account_email(upload_dir: Path) -> None:
    """The account e-mail is a credential: an invalid one is reported by column, not by value."""
    ProductFactory.create(sku="IG-SEC")
    client = _client(manager("boss2"))
    bad = b"sku,username,password,email\nIG-SEC,one,pw-1,not-an-address-S3CRET\n"
    response = client.post(
        reverse("admin:inventory_importbatch_upload", args=["stock"]),
        {"file": SimpleUploadedFile("s.csv", bad)},
    )
    html = response.content.decode()
    assert "<td>2</td><td>email is not a valid e-mail address</td>" in html
    assert "not-an-address-S3CRET" not in html
    assert not Account.objects.exists() and not ImportBatch.objects.exists()
