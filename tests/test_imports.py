from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from compensation.models import CompensationRequest, ReplacementBatch
from inventory.crypto import credentials_open
from inventory.import_rows import ImportReport
from inventory.importing import products_import, stock_import
from inventory.models import Account, Event, ImportBatch, Product
from orders.models import Order, OrderLine
from orders.services import orders_import

from .factories.inventory import make_account, make_accounts, make_product
from .factories.orders import make_line, make_order

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EITHER = "give either quantity (a sale from stock) or accounts (history)"
STOCK_HEADER = "sku,username,password,user_id,email,followers,posts,likes,supplier\n"


def run(
    service: Any, content: str | bytes, *, filename: str = "file.csv", **kwargs: Any
) -> ImportReport:
    data = content.encode() if isinstance(content, str) else content
    return service(source=io.BytesIO(data), filename=filename, actor=None, now=NOW, **kwargs)


def errors_of(report: ImportReport) -> list[str]:
    return [str(e) for e in report.errors]


def snapshot() -> tuple[int, int, int, int, int, int, list[tuple[int, str]]]:
    return (
        Product.objects.count(),
        Account.objects.count(),
        Order.objects.count(),
        OrderLine.objects.count(),
        Event.objects.count(),
        ImportBatch.objects.count(),
        list(Account.objects.values_list("id", "state")),
    )


# --- products ----------------------------------------------------------------------------------
def test_products_import_creates_then_skips_on_reimport() -> None:
    content = "sku,name,platform\nIG-AGED,Instagram aged,instagram\nX-FRESH,X fresh,X\n"

    first = run(products_import, content, filename="products.csv")
    second = run(products_import, content, filename="products.csv")

    assert (first.ok, first.rows_total, first.created, first.skipped) == (True, 2, 2, 0)
    assert (second.ok, second.rows_total, second.created, second.skipped) == (True, 2, 0, 2)
    assert list(Product.objects.values_list("sku", "name", "platform")) == [
        ("IG-AGED", "Instagram aged", "instagram"),
        ("X-FRESH", "X fresh", "x"),
    ]
    batches = list(
        ImportBatch.objects.order_by("id").values_list(
            "kind", "filename", "rows_total", "rows_created", "rows_skipped", "sha256"
        )
    )
    sha = hashlib.sha256(content.encode()).hexdigest()
    assert batches == [
        ("products", "products.csv", 2, 2, 0, sha),
        ("products", "products.csv", 2, 0, 2, sha),
    ]


def test_products_import_reports_every_bad_row_and_imports_nothing() -> None:
    make_product(sku="OLD", platform="reddit")
    before = snapshot()
    content = (
        "sku,name,platform\n"
        "A,Fine,instagram\n"
        ",No sku,instagram\n"
        "B,Bad platform,myspace\n"
        "A,Again,x\n"
        "OLD,Old one,tiktok\n"
        "C,Too,many,fields\n"
    )

    report = run(products_import, content)

    assert errors_of(report) == [
        "line 3: sku is required",
        "line 4: unknown platform 'myspace' (one of: discord, facebook, instagram, reddit, "
        "telegram, tiktok, x, youtube)",
        "line 5: duplicate sku 'A' (first on line 2)",
        "line 6: sku 'OLD' already exists on platform 'reddit', not 'tiktok'",
        "line 7: expected 3 field(s), found 4",
    ]
    assert report.created == 0
    assert snapshot() == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ["line 1: the file is empty (expected a header line)"]),
        (b"sku,name,platform\n", ["line 2: the file has a header but no rows"]),
        (b"sku,name\nA,B\n", ["line 1: missing column(s): platform"]),
        (
            b"sku,name,platform,colour\nA,B,x,red\n",
            ["line 1: unknown column(s): 'colour' (allowed: sku, name, platform)"],
        ),
        (
            "sku,name,platform\nA,Caf\u00e9,x\nB,ok,x\nC,na\u00efve,x\n".encode("latin-1"),
            [
                "line 2: not valid UTF-8 (byte 6); save the file as UTF-8",
                "line 4: not valid UTF-8 (byte 5); save the file as UTF-8",
            ],
        ),
    ],
    ids=["empty", "header-only", "missing-column", "unknown-column", "latin-1"],
)
def test_products_file_level_errors(content: bytes, expected: list[str]) -> None:
    report = run(products_import, content)
    assert errors_of(report) == expected
    assert Product.objects.count() == 0 and ImportBatch.objects.count() == 0


def test_products_import_accepts_a_utf8_bom_and_crlf() -> None:
    report = run(products_import, "\ufeffSKU,Name,Platform\r\nA,Caf\u00e9,x\r\n".encode())
    assert report.ok and report.created == 1
    assert Product.objects.get().name == "Caf\u00e9"


# --- stock -------------------------------------------------------------------------------------
def test_stock_import_seals_credentials_keeps_baselines_and_wakes_fulfilment(
    wakes: list[list[int]],
) -> None:
    ig = make_product(sku="IG", platform="instagram")
    x = make_product(sku="X", platform="x")
    content = (
        "sku,username,password,email,email_password,two_factor_secret,followers,posts,"
        "likes,supplier,notes,user_id\n"
        "IG,ig_one,  s3cret ,one@mail.test,mailpw,JBSWY3DP,250,0,3,farm-a,aged 2019,1789\n"
        "X,x_one,pw2,,,,,,,,,\n"
    )

    report = run(stock_import, content, filename="stock.csv")

    assert (report.ok, report.rows_total, report.created, report.skipped) == (True, 2, 2, 0)
    one = Account.objects.get(username="ig_one")
    assert (one.product, one.platform, one.state, one.supplier, one.platform_user_id) == (
        ig,
        "instagram",
        "in_stock",
        "farm-a",
        "1789",
    )
    assert one.baseline_interactions == {
        "posts": 0,
        "reposts": None,
        "comments": None,
        "likes": 3,
        "follows": None,
        "messages": None,
    }
    assert one.baseline_followers == 250
    creds = credentials_open(one.credentials_sealed)
    assert (
        creds.password,
        creds.email,
        creds.email_password,
        creds.two_factor_secret,
        creds.notes,
    ) == ("  s3cret ", "one@mail.test", "mailpw", "JBSWY3DP", "aged 2019")
    two = Account.objects.get(username="x_one")
    assert two.product == x and two.baseline_followers is None
    assert two.import_batch_id == one.import_batch_id == report.batch_id
    assert wakes == [sorted([ig.pk, x.pk])]


def test_stock_reimport_skips_present_rows(wakes: list[list[int]]) -> None:
    make_product(sku="IG")
    content = STOCK_HEADER + "IG,a1,pw,,,,,,\nIG,a2,pw,,,,,,\n"
    run(stock_import, content)
    ids = list(Account.objects.values_list("id", flat=True))

    again = run(stock_import, content + "IG,a3,pw,,,,,,\n")

    assert (again.ok, again.created, again.skipped) == (True, 1, 2)
    assert Account.objects.count() == 3
    assert list(Account.objects.values_list("id", flat=True))[:2] == ids
    assert again.batch_id is not None
    assert ImportBatch.objects.get(pk=again.batch_id).rows_skipped == 2
    assert len(wakes) == 2


def test_stock_reimport_with_nothing_new_wakes_nobody(wakes: list[list[int]]) -> None:
    make_product(sku="IG")
    content = STOCK_HEADER + "IG,a1,pw,,,,,,\n"
    run(stock_import, content)
    again = run(stock_import, content)
    assert (again.created, again.skipped) == (0, 1)
    assert len(wakes) == 1


def test_stock_import_reports_every_bad_row_and_imports_nothing(wakes: list[list[int]]) -> None:
    ig = make_product(sku="IG", platform="instagram")
    make_product(sku="IG2", platform="instagram")
    make_account(product=ig, username="Taken")
    before = snapshot()
    content = (
        STOCK_HEADER
        + "IG,fine,pw,,,,,,\n"  # 2 ok
        + "NOPE,u1,pw,,,,,,\n"  # 3 unknown sku
        + "IG,FINE,pw,,,,,,\n"  # 4 duplicate (case-insensitive) of line 2
        + "IG2,taken,pw,,,,,,\n"  # 5 exists for another product
        + "IG,u2,pw,,,ten,,,\n"  # 6 non-numeric counter
        + "IG,u3,pw,,,,-1,,\n"  # 7 negative counter
        + "IG,u4,pw,,not-an-email,,,,\n"  # 8 bad e-mail
        + "IG,u5,,,,,,,\n"  # 9 missing password
        + "IG,u6,pw\n"  # 10 wrong field count
        + "IG,bad name,pw,,,,,,\n"
    )  # 11 whitespace in username

    report = run(stock_import, content)

    assert errors_of(report) == [
        "line 3: unknown sku 'NOPE' (import it with import_products first)",
        "line 4: duplicate username 'FINE' on instagram (first on line 2)",
        "line 5: username 'taken' already exists on instagram as 'Taken' (another product)",
        "line 6: followers must be a whole number ≥ 0 or blank, got 'ten'",
        "line 7: posts must not be negative, got -1",
        "line 8: email is not a valid e-mail address",
        "line 9: password is required",
        "line 10: expected 9 field(s), found 3",
        "line 11: username 'bad name' contains whitespace",
    ]
    assert report.created == 0 and report.batch_id is None
    assert snapshot() == before
    assert wakes == []


def test_stock_same_username_on_another_platform_is_fine(wakes: list[list[int]]) -> None:
    make_product(sku="IG", platform="instagram")
    make_product(sku="X", platform="x")
    report = run(stock_import, STOCK_HEADER + "IG,same,pw,,,,,,\nX,Same,pw,,,,,,\n")
    assert report.ok and report.created == 2


def test_stock_case_variant_of_own_account_is_an_error(wakes: list[list[int]]) -> None:
    ig = make_product(sku="IG")
    make_account(product=ig, username="alice")
    report = run(stock_import, STOCK_HEADER + "IG,Alice,pw,,,,,,\n")
    assert errors_of(report) == [
        "line 2: username 'Alice' already exists on instagram as 'alice' (this product)"
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ["line 1: the file is empty (expected a header line)"]),
        (b"\n\n", ["line 1: the file is empty (expected a header line)"]),
        (STOCK_HEADER.encode(), ["line 2: the file has a header but no rows"]),
        (b"sku,username,followers\nIG,a,1\n", ["line 1: missing column(s): password"]),
        (
            b"sku,username,password,pasword\nIG,a,b,c\n",
            [
                "line 1: unknown column(s): 'pasword' (allowed: sku, username, password, "
                "user_id, email, email_password, two_factor_secret, followers, posts, reposts, "
                "comments, likes, follows, messages, supplier, notes)"
            ],
        ),
        (
            b"sku,username,password\nIG,a,pw\nIG,b,p\xe4ss\n",
            ["line 3: not valid UTF-8 (byte 7); save the file as UTF-8"],
        ),
        (
            b'sku,username,password\nIG,a,"unterminated\n',
            ["line 2: malformed CSV: unexpected end of data"],
        ),
    ],
    ids=[
        "empty",
        "blank-lines",
        "header-only",
        "missing-column",
        "unknown-column",
        "encoding",
        "malformed",
    ],
)
def test_stock_file_level_errors(
    content: bytes, expected: list[str], wakes: list[list[int]]
) -> None:
    make_product(sku="IG")
    before = snapshot()
    report = run(stock_import, content)
    assert errors_of(report) == expected
    assert snapshot() == before


def test_stock_dry_run_counts_but_writes_nothing(wakes: list[list[int]]) -> None:
    ig = make_product(sku="IG")
    make_account(product=ig, username="old")
    before = snapshot()
    report = run(stock_import, STOCK_HEADER + "IG,old,pw,,,,,,\nIG,new,pw,,,,,,\n", dry_run=True)
    assert (report.ok, report.created, report.skipped, report.dry_run) == (True, 1, 1, True)
    assert snapshot() == before and wakes == []


def test_stock_import_in_batches_larger_than_one_chunk(wakes: list[list[int]]) -> None:
    make_product(sku="IG")
    rows = "".join(f"IG,user{i},pw{i},,,{i},,,\n" for i in range(2500))
    first = run(stock_import, STOCK_HEADER + rows)
    assert (first.created, first.skipped) == (2500, 0)
    dup = run(stock_import, STOCK_HEADER + rows + "IG,USER7,pw,,,,,,\n")
    assert errors_of(dup) == [
        "line 2502: duplicate username 'USER7' on instagram (first on line 9)"
    ]
    assert Account.objects.count() == 2500
    assert Account.objects.get(username="user2499").baseline_followers == 2499


# --- orders ------------------------------------------------------------------------------------
def orders_json(orders: list[dict[str, Any]]) -> str:
    return json.dumps(orders, indent=2)


def test_orders_import_allocates_sales_and_records_history(wakes: list[list[int]]) -> None:
    ig = make_product(sku="IG-AGED", platform="instagram")
    x = make_product(sku="X-FRESH", platform="x")
    stock = make_accounts(3, product=ig)
    content = orders_json(
        [
            {
                "order_id": "A1001",
                "email": "buyer@example.com",
                "placed_at": "2026-11-20T10:00:00",
                "lines": [
                    {"sku": "IG-AGED", "quantity": 2},
                    {
                        "sku": "X-FRESH",
                        "accounts": [
                            {
                                "username": "x_one",
                                "user_id": 42,
                                "password": "pw",
                                "followers": 120,
                                "posts": 3,
                            }
                        ],
                    },
                ],
            },
        ]
    )

    report = run(orders_import, content, filename="orders.json")

    assert (report.ok, report.rows_total, report.created, report.skipped) == (True, 1, 1, 0)
    order = Order.objects.get(order_id="A1001")
    assert order.placed_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # no zone = UTC
    assert order.import_batch_id == report.batch_id
    sale = order.lines.get(product=ig)
    assert sale.quantity == 2
    assert list(sale.accounts.values_list("id", "state", "delivery_kind", "delivered_at")) == [
        (stock[0].id, "delivered", "sale", NOW),
        (stock[1].id, "delivered", "sale", NOW),
    ]
    history = order.lines.get(product=x)
    one = history.accounts.get()
    assert (
        history.quantity,
        one.username,
        one.platform,
        one.platform_user_id,
        one.state,
        one.delivered_at,
        one.baseline_followers,
        one.baseline_posts,
        one.baseline_likes,
    ) == (1, "x_one", "x", "42", "delivered", order.placed_at, 120, 3, None)
    assert credentials_open(one.credentials_sealed).password == "pw"
    assert Account.objects.get(pk=stock[2].pk).state == "in_stock"
    kinds = sorted(Event.objects.filter(order=order).values_list("kind", flat=True))
    assert kinds == ["accounts_delivered", "order_imported"]


def test_orders_reimport_skips_present_orders(wakes: list[list[int]]) -> None:
    make_product(sku="IG")
    content = orders_json(
        [
            {
                "order_id": "A1",
                "email": "a@example.com",
                "placed_at": "2026-11-20T10:00:00Z",
                "lines": [{"sku": "IG", "accounts": [{"username": "h1"}]}],
            },
            {
                "order_id": "A2",
                "email": "b@example.com",
                "placed_at": "2026-11-21T10:00:00+02:00",
                "lines": [{"sku": "IG", "accounts": [{"username": "h2"}, {"username": "h3"}]}],
            },
        ]
    )
    run(orders_import, content)
    before = snapshot()

    again = run(orders_import, content)

    assert (again.ok, again.created, again.skipped) == (True, 0, 2)
    assert snapshot()[:5] == before[:5]
    assert Order.objects.get(order_id="A2").placed_at == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_sale_larger_than_stock_is_an_error_and_imports_nothing(wakes: list[list[int]]) -> None:
    ig = make_product(sku="IG")
    make_accounts(3, product=ig)
    before = snapshot()
    content = orders_json(
        [
            {
                "order_id": "A1",
                "email": "a@example.com",
                "placed_at": "2026-11-20T10:00:00Z",
                "lines": [{"sku": "IG", "quantity": 2}],
            },
            {
                "order_id": "A2",
                "email": "b@example.com",
                "placed_at": "2026-11-20T11:00:00Z",
                "lines": [{"sku": "IG", "quantity": 2}],
            },
        ]
    )

    report = run(orders_import, content)

    assert errors_of(report) == [
        "line 13: order 'A2': not enough stock of 'IG': needs 2, 1 left of 3 in stock"
    ]
    assert snapshot() == before


def test_orders_import_reports_every_bad_order_and_imports_nothing(wakes: list[list[int]]) -> None:
    ig = make_product(sku="IG")
    make_account(product=ig, username="taken")
    make_order(order_id="OLD")
    before = snapshot()
    orders = [
        {
            "order_id": "B1",
            "email": "nope",
            "placed_at": "2026-11-20T10:00:00Z",
            "lines": [{"sku": "IG", "accounts": [{"username": "h1"}]}],
        },
        {
            "order_id": "B2",
            "email": "b@example.com",
            "placed_at": "20/11/2026",
            "lines": [{"sku": "NOPE", "quantity": 1}],
        },
        {
            "order_id": "B3",
            "email": "b@example.com",
            "placed_at": "2027-01-01T00:00:00Z",
            "lines": [{"sku": "IG", "quantity": 1, "accounts": []}],
        },
        {
            "order_id": "B1",
            "email": "b@example.com",
            "placed_at": "2026-11-20T10:00:00Z",
            "lines": [{"sku": "IG", "accounts": [{"username": "h9"}]}],
        },
        {
            "order_id": "B4",
            "email": "b@example.com",
            "placed_at": "2026-11-20T10:00:00Z",
            "lines": [{"sku": "IG", "accounts": [{"username": "TAKEN", "followers": -3}]}],
        },
        {
            "order_id": "B5",
            "email": "b@example.com",
            "placed_at": "2026-11-20T10:00:00Z",
            "lines": [
                {"sku": "IG", "accounts": [{"username": "TAKEN"}, {"username": "dup"}]},
                {"sku": "IG", "quantity": 1},
            ],
        },
        {
            "order_id": "B6",
            "email": "b@example.com",
            "placed_at": "2026-11-20T10:00:00Z",
            "lines": [{"sku": "IG", "quantty": 2}],
        },
        {
            "order_id": "OLD",
            "email": "b@example.com",
            "placed_at": "2026-11-20T10:00:00Z",
            "lines": [{"sku": "IG", "quantity": 1}],
        },
    ]
    content = "[\n" + ",\n".join(json.dumps(o) for o in orders) + "\n]\n"

    report = run(orders_import, content)

    assert errors_of(report) == [
        "line 2: order 'B1': email 'nope' is not a valid e-mail address",
        "line 3: order 'B2': placed_at '20/11/2026' is not an ISO 8601 time "
        "(e.g. 2026-11-20T10:00:00Z)",
        "line 3: order 'B2': lines[0]: unknown sku 'NOPE'",
        "line 4: order 'B3': placed_at '2027-01-01T00:00:00Z' is in the future",
        f"line 4: order 'B3': lines[0]: {EITHER}",
        "line 5: order 'B1': duplicate order_id (first on line 2)",
        "line 6: order 'B4': lines[0].accounts[0]: followers must not be negative, got -3",
        "line 7: order 'B5': lines[1]: sku 'IG' appears twice in this order (one line per product)",
        "line 8: order 'B6': lines[0]: unknown field(s) quantty",
        f"line 8: order 'B6': lines[0]: {EITHER}",
    ]
    assert report.skipped == 1  # OLD is already there
    assert snapshot() == before


def test_orders_history_username_taken_in_db_or_file(wakes: list[list[int]]) -> None:
    ig = make_product(sku="IG")
    make_account(product=ig, username="taken")
    before = snapshot()
    orders = [
        {
            "order_id": "C1",
            "email": "c@example.com",
            "placed_at": "2026-11-20T10:00:00Z",
            "lines": [{"sku": "IG", "accounts": [{"username": "TAKEN"}, {"username": "dup"}]}],
        },
        {
            "order_id": "C2",
            "email": "c@example.com",
            "placed_at": "2026-11-20T10:00:00Z",
            "lines": [{"sku": "IG", "accounts": [{"username": "Dup"}]}],
        },
    ]
    report = run(orders_import, "[\n" + ",\n".join(json.dumps(o) for o in orders) + "\n]")
    assert errors_of(report) == [
        "line 2: order 'C1': username 'TAKEN' already exists on instagram",
        "line 3: order 'C2': duplicate username 'Dup' on instagram (first in the order on line 2)",
    ]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ["line 1: not valid JSON: the file is empty (expected a list of orders) (column 1)"]),
        (b"[]", ["line 1: the file holds no orders"]),
        (
            b'{"order_id": "A"}',
            ["line 1: not valid JSON: expected a list of orders (starting with [) (column 1)"],
        ),
        (
            b'[\n{"order_id": "A",\n "email": }\n]',
            ["line 3: not valid JSON: Expecting value (column 11)"],
        ),
        (
            b'[\n{"order_id": "A\xe9"}\n]',
            ["line 2: not valid UTF-8 (byte 16); save the file as UTF-8"],
        ),
        (b'[\n"A1"\n]', ["line 2: each order must be a JSON object"]),
    ],
    ids=["empty", "no-orders", "not-a-list", "syntax", "encoding", "not-an-object"],
)
def test_orders_file_level_errors(
    content: bytes, expected: list[str], wakes: list[list[int]]
) -> None:
    before = snapshot()
    report = run(orders_import, content)
    assert errors_of(report) == expected
    assert snapshot() == before


# --- commands ----------------------------------------------------------------------------------
def test_commands_print_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wakes: list[list[int]]
) -> None:
    (tmp_path / "p.csv").write_text("sku,name,platform\nIG,Insta,instagram\n")
    (tmp_path / "s.csv").write_text("sku,username,password\nIG,a,pw\nIG,b,pw\n")
    (tmp_path / "o.json").write_text(
        json.dumps(
            [
                {
                    "order_id": "A1",
                    "email": "a@example.com",
                    "placed_at": "2026-11-20T10:00:00Z",
                    "lines": [{"sku": "IG", "quantity": 1}],
                }
            ]
        )
    )

    call_command("import_products", str(tmp_path / "p.csv"))
    call_command("import_stock", str(tmp_path / "s.csv"))
    call_command("import_stock", str(tmp_path / "s.csv"))
    call_command("import_orders", str(tmp_path / "o.json"))

    out = capsys.readouterr().out.splitlines()
    tail = "already present (import batch #"
    assert out[0].startswith(f"products import of p.csv: 1 row(s), created 1, skipped 0 {tail}")
    assert out[1].startswith(f"stock import of s.csv: 2 row(s), created 2, skipped 0 {tail}")
    assert out[2].startswith(f"stock import of s.csv: 2 row(s), created 0, skipped 2 {tail}")
    assert out[3].startswith(f"orders import of o.json: 1 row(s), created 1, skipped 0 {tail}")
    assert Account.objects.filter(state="delivered").count() == 1


def test_command_exits_non_zero_with_every_bad_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.csv").write_text("sku,name,platform\nA,ok,x\n,x,x\nB,y,nowhere\n")

    with pytest.raises(CommandError) as excinfo:
        call_command("import_products", str(tmp_path / "p.csv"))

    assert "2 error(s): nothing imported" in str(excinfo.value)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "p.csv: line 3: sku is required"
    assert err[1].startswith("p.csv: line 4: unknown platform 'nowhere'")
    assert Product.objects.count() == 0


def test_command_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_stock", str(tmp_path / "missing.csv"))


# --- the real wake-up: an import of stock serves a waiting replacement batch after commit -----
def test_stock_import_serves_a_waiting_batch_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:

    product = make_product(sku="IG")
    line = make_line(product=product)
    request = CompensationRequest.objects.create(
        order=line.order,
        email=line.order.email,
        reason="locked",
        password_change_warning=False,
        received_at=NOW,
        status="decided",
    )
    batch = ReplacementBatch.objects.create(
        line=line, product=product, request=request, quantity=2, approved_at=NOW
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        report = run(
            stock_import, STOCK_HEADER + "IG,r1,pw,,,,,,\nIG,r2,pw,,,,,,\nIG,r3,pw,,,,,,\n"
        )

    assert report.ok and len(callbacks) >= 1
    batch.refresh_from_db()
    assert batch.state == "delivered"
    assert sorted(batch.accounts.values_list("username", flat=True)) == ["r1", "r2"]
    assert Account.objects.get(username="r3").state == "in_stock"
