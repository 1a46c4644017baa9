from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from compensation.models import CompensationRequest, ReplacementBatch
from inventory.crypto import Credentials, credentials_seal
from inventory.models import Account, Event, ImportBatch, Product
from inventory.services import AccountStateError, account_restock, account_retire
from orders.models import Order

from .factories.inventory import make_account, make_accounts, make_product
from .factories.orders import make_line, make_order

pytestmark = pytest.mark.django_db

PASSWORD = "Hunter2-very-secret"
EMAIL = "secret-mailbox@mail.test"


@pytest.fixture
def upload_dir(tmp_path: Path, settings: object) -> Path:
    settings.IMPORT_UPLOAD_DIR = tmp_path / "pending"  # type: ignore[attr-defined]
    return tmp_path / "pending"


def staff(*perms: str) -> Client:
    user = User.objects.create_user(f"staff{User.objects.count()}", password="x", is_staff=True)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def secret_account(**kwargs: object) -> Account:

    sealed = credentials_seal(
        Credentials(
            password=PASSWORD,
            email=EMAIL,
            email_password="mailbox-pw-77",
            two_factor_secret="JBSWY3DPEHPK3PXP",
        )
    )
    return make_account(credentials_sealed=sealed, **kwargs)


def assert_no_credentials(html: str, account: Account) -> None:
    secrets = (PASSWORD, EMAIL, "mailbox-pw-77", "JBSWY3DPEHPK3PXP", account.credentials_sealed)
    for secret in secrets:
        assert secret not in html


# --- products and accounts ---------------------------------------------------------------------
def test_product_list_shows_live_stock_counts(admin_client: Client) -> None:
    product = make_product(sku="IG-AGED")
    make_accounts(3, product=product)
    make_account(product=product, state=Account.State.RETIRED)
    line = make_line(product=product, quantity=2)
    make_accounts(
        2,
        product=product,
        state="delivered",
        line=line,
        delivered_at=timezone.now(),
        delivery_kind="sale",
    )

    response = admin_client.get(reverse("admin:inventory_product_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    row = re.search(r"IG-AGED.*?</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r'<td class="field-(in_stock|delivered|retired)">(\d+)</td>', row.group(0))
    assert cells == [("in_stock", "3"), ("delivered", "2"), ("retired", "1")]
    assert "Import products" in html


@pytest.mark.parametrize("query", ["", "ig_secret", "778899", "A-SEARCH"])
def test_account_list_and_search_render_without_credentials(
    admin_client: Client, query: str
) -> None:
    product = make_product(sku="IG")
    order = make_order(order_id="A-SEARCH")
    line = make_line(order=order, product=product)
    account = secret_account(
        product=product,
        username="ig_secret",
        platform_user_id="778899",
        state="delivered",
        line=line,
        delivered_at=timezone.now(),
        delivery_kind="sale",
        supplier="farm-a",
    )
    make_account(product=product, username="other_one")

    response = admin_client.get(reverse("admin:inventory_account_changelist"), {"q": query})

    assert response.status_code == 200
    html = response.content.decode()
    assert "ig_secret" in html and "farm-a" in html and "A-SEARCH" in html
    assert ("other_one" in html) is (query == "")
    assert_no_credentials(html, account)


def test_account_filters_render(admin_client: Client) -> None:
    account = secret_account(supplier="farm-b")
    url = reverse("admin:inventory_account_changelist")
    for params in (
        {"state": "in_stock"},
        {"platform": "instagram"},
        {"supplier": "farm-b"},
        {"product__id__exact": str(account.product_id)},
        {"delivery_kind": ""},
    ):
        response = admin_client.get(url, params)
        assert response.status_code == 200, params
        assert account.username in response.content.decode()


def test_account_change_page_has_no_credentials_and_no_form_field(admin_client: Client) -> None:
    account = secret_account()
    response = admin_client.get(reverse("admin:inventory_account_change", args=[account.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert_no_credentials(html, account)
    assert 'name="credentials_sealed"' not in html
    assert reverse("admin:inventory_account_reveal", args=[account.pk]) in html
    assert admin_client.get(reverse("admin:inventory_account_add")).status_code == 403


# --- reveal ------------------------------------------------------------------------------------
def test_reveal_needs_the_permission() -> None:
    account = secret_account()
    client = staff("inventory.view_account", "inventory.change_account")
    url = reverse("admin:inventory_account_reveal", args=[account.pk])
    assert client.get(url).status_code == 403
    response = client.post(url)
    assert response.status_code == 403
    assert PASSWORD not in response.content.decode()
    assert not Event.objects.exists()


def test_reveal_needs_a_post_shows_once_and_records_an_event() -> None:
    line = make_line()
    account = secret_account(
        product=line.product,
        state="delivered",
        line=line,
        delivered_at=timezone.now(),
        delivery_kind="sale",
    )
    client = staff("inventory.view_account", "inventory.reveal_credentials")
    url = reverse("admin:inventory_account_reveal", args=[account.pk])

    shown = client.get(url)
    assert shown.status_code == 200
    assert PASSWORD not in shown.content.decode() and 'method="post"' in shown.content.decode()
    assert not Event.objects.exists()

    revealed = client.post(url)

    html = revealed.content.decode()
    assert revealed.status_code == 200
    assert PASSWORD in html and EMAIL in html and "JBSWY3DPEHPK3PXP" in html
    assert "no-store" in revealed["Cache-Control"]
    assert revealed["Referrer-Policy"] == "same-origin"
    event = Event.objects.get()
    assert (event.kind, event.account_id, event.order_id, event.actor_id) == (
        "credentials_revealed",
        account.pk,
        line.order_id,
        revealed.wsgi_request.user.pk,
    )
    assert PASSWORD not in str(event.data) + event.message


def test_reveal_is_login_protected() -> None:
    account = secret_account()
    response = Client().post(reverse("admin:inventory_account_reveal", args=[account.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Event.objects.exists()


# --- retire / restock --------------------------------------------------------------------------
def test_retire_and_restock_actions(admin_client: Client, wakes: list[list[int]]) -> None:
    product = make_product()
    a, b = make_accounts(2, product=product)
    line = make_line(product=product)
    delivered = make_account(
        product=product,
        state="delivered",
        line=line,
        delivered_at=timezone.now(),
        delivery_kind="sale",
    )
    url = reverse("admin:inventory_account_changelist")

    admin_client.post(url, {"action": "retire_selected", "_selected_action": [a.pk, delivered.pk]})

    assert dict(Account.objects.values_list("pk", "state")) == {
        a.pk: "retired",
        b.pk: "in_stock",
        delivered.pk: "delivered",
    }
    assert list(Event.objects.values_list("kind", "account_id")) == [("account_retired", a.pk)]

    admin_client.post(url, {"action": "restock_selected", "_selected_action": [a.pk, b.pk]})

    assert Account.objects.get(pk=a.pk).state == "in_stock"
    assert list(Event.objects.values_list("kind", "account_id")) == [
        ("account_retired", a.pk),
        ("account_restocked", a.pk),
    ]
    assert wakes == [[product.pk]]


def test_delivered_account_can_never_be_restocked(wakes: list[list[int]]) -> None:
    line = make_line()
    account = make_account(
        product=line.product,
        state="retired",
        line=line,
        delivered_at=timezone.now(),
        delivery_kind="sale",
    )
    with pytest.raises(AccountStateError):
        account_restock(account_id=account.pk, actor=None, now=timezone.now())
    with pytest.raises(AccountStateError):
        account_retire(account_id=account.pk, actor=None, now=timezone.now())
    assert Account.objects.get(pk=account.pk).state == "retired"
    assert not Event.objects.exists() and wakes == []


# --- uploads with preview ----------------------------------------------------------------------
def upload(client: Client, kind: str, name: str, content: bytes) -> str:
    response = client.post(
        reverse("admin:inventory_importbatch_upload", args=[kind]),
        {"file": SimpleUploadedFile(name, content)},
    )
    assert response.status_code == 200
    return response.content.decode()


def test_upload_preview_then_confirm(admin_client: Client, upload_dir: Path) -> None:
    make_product(sku="OLD", platform="x")
    form = admin_client.get(reverse("admin:inventory_importbatch_upload", args=["products"]))
    assert form.status_code == 200

    html = upload(
        admin_client,
        "products",
        "p.csv",
        b"sku,name,platform\nOLD,Old,x\nIG,Insta,instagram\nTT,Tok,tiktok\n",
    )

    assert re.search(r'id="rows-created">2<', html) and re.search(r'id="rows-skipped">1<', html)
    assert Product.objects.count() == 1 and not ImportBatch.objects.exists()
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert token is not None
    assert len(list(upload_dir.glob("*.bin"))) == 1
    assert b"Insta" not in next(upload_dir.glob("*.bin")).read_bytes()  # kept encrypted

    done = admin_client.post(
        reverse("admin:inventory_importbatch_upload", args=["products"]), {"token": token.group(1)}
    )

    assert done.status_code == 302
    assert done["Location"] == reverse("admin:inventory_product_changelist")
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["IG", "OLD", "TT"]
    batch = ImportBatch.objects.get()
    assert (batch.kind, batch.filename, batch.rows_created, batch.rows_skipped, batch.actor_id) == (
        "products",
        "p.csv",
        2,
        1,
        User.objects.get(username="admin").pk,
    )
    assert list(upload_dir.glob("*.bin")) == []
    # The same token cannot import twice.
    again = admin_client.post(
        reverse("admin:inventory_importbatch_upload", args=["products"]), {"token": token.group(1)}
    )
    assert again.status_code == 302 and Product.objects.count() == 3


def test_upload_with_errors_shows_every_error_and_offers_no_confirm(
    admin_client: Client, upload_dir: Path
) -> None:
    make_product(sku="IG")
    html = upload(
        admin_client,
        "stock",
        "s.csv",
        b"sku,username,password,followers\nIG,a,pw,1\nNOPE,b,pw,1\nIG,c,pw,many\n",
    )
    assert "<td>3</td><td>unknown sku &#x27;NOPE&#x27;" in html
    assert "<td>4</td><td>followers must be a whole number" in html
    assert 'name="token"' not in html
    assert Account.objects.count() == 0
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def test_upload_orders_through_the_same_service(
    admin_client: Client, upload_dir: Path, wakes: list[list[int]]
) -> None:
    product = make_product(sku="IG")
    make_accounts(2, product=product)
    content = (
        b'[{"order_id": "W1", "email": "w@example.com", '
        b'"placed_at": "2026-11-01T10:00:00Z", "lines": [{"sku": "IG", "quantity": 2}]}]'
    )
    html = upload(admin_client, "orders", "o.json", content)
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert token is not None and not Order.objects.exists()

    admin_client.post(
        reverse("admin:inventory_importbatch_upload", args=["orders"]), {"token": token.group(1)}
    )

    assert Order.objects.get().order_id == "W1"
    assert Account.objects.filter(state="delivered", line__order__order_id="W1").count() == 2


def test_upload_needs_the_add_permission(upload_dir: Path) -> None:
    client = staff("inventory.view_importbatch")
    url = reverse("admin:inventory_importbatch_upload", args=["stock"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"file": SimpleUploadedFile("s.csv", b"x")}).status_code == 403
    assert not upload_dir.exists()


# --- orders and events -------------------------------------------------------------------------
def test_order_page_shows_lines_accounts_compensation_label_and_events(
    admin_client: Client,
) -> None:
    order = make_order(order_id="A2000", email="buyer@example.com")
    product = make_product(sku="IG")
    line = make_line(order=order, product=product, quantity=1)
    now = timezone.now()
    sold = secret_account(
        product=product,
        username="sold_one",
        state="delivered",
        line=line,
        delivered_at=now,
        delivery_kind="sale",
    )
    request = CompensationRequest.objects.create(
        order=order,
        email=order.email,
        reason="locked",
        password_change_warning=False,
        received_at=now,
        status="decided",
    )
    batch = ReplacementBatch.objects.create(
        line=line,
        product=product,
        request=request,
        quantity=1,
        approved_at=now,
        state="delivered",
        delivered_at=now,
    )
    make_account(
        product=product,
        username="replacement_one",
        state="delivered",
        line=line,
        delivered_at=now,
        delivery_kind="compensation",
        replacement_batch=batch,
    )
    Event.objects.create(at=now, kind="order_imported", order=order, message="imported from x")

    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "sold_one" in html and "replacement_one" in html
    assert re.search(r"replacement_one.*?Compensate Product", html, re.S)
    assert re.search(r"sold_one.*?Sale", html, re.S)
    assert "imported from x" in html and "order_imported" in html
    assert_no_credentials(html, sold)


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"q": "A3001"}, ["A3001"]),
        ({"q": "second@example.com"}, ["A3002"]),
        ({"placed_at__gte": str(timezone.now() - timedelta(days=7))}, ["A3001"]),
        ({"placed_at__lt": str(timezone.now() - timedelta(days=7))}, ["A3002"]),
    ],
)
def test_order_list_search_and_filter(
    admin_client: Client, params: dict[str, str], found: list[str]
) -> None:
    make_order(
        order_id="A3001", email="first@example.com", placed_at=timezone.now() - timedelta(days=2)
    )
    make_order(
        order_id="A3002", email="second@example.com", placed_at=timezone.now() - timedelta(days=20)
    )
    response = admin_client.get(reverse("admin:orders_order_changelist"), params)
    html = response.content.decode()
    assert response.status_code == 200
    assert [oid for oid in ("A3001", "A3002") if f">{oid}<" in html] == found


def test_events_are_read_only(admin_client: Client) -> None:
    event = Event.objects.create(at=timezone.now(), kind="order_imported", message="m")
    assert admin_client.get(reverse("admin:inventory_event_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:inventory_event_add")).status_code == 403
    page = admin_client.get(reverse("admin:inventory_event_change", args=[event.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    deleted = admin_client.post(
        reverse("admin:inventory_event_delete", args=[event.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 403 and Event.objects.count() == 1
