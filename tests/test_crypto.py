from __future__ import annotations

import io
import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.crypto import Credentials, credentials_open, credentials_seal, credentials_sealer
from inventory.importing import stock_import
from inventory.models import Account
from orders.services import orders_import

from .factories.inventory import make_account, make_product

pytestmark = pytest.mark.django_db

SECRETS = (
    "Pa55-word-STOCK",
    "mbox-Pa55-STOCK",
    "TOTPSECRETSTOCK",
    "Pa55-word-HISTORY",
    "TOTPSECRETHISTORY",
)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CREDENTIAL_FIELDS = tuple(f.name for f in fields(Credentials))


def settings_keys() -> list[str]:
    return list(django_settings.CREDENTIALS_ENCRYPTION_KEYS)


@pytest.fixture(autouse=True)
def _no_tasks(queued: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Nothing these imports wake up is queued."""


def load_secrets() -> None:
    make_product(sku="IG", platform="instagram")
    stock = (
        "sku,username,password,email,email_password,two_factor_secret\n"
        "IG,stock_one,Pa55-word-STOCK,box@mail.test,mbox-Pa55-STOCK,TOTPSECRETSTOCK\n"
    )
    assert stock_import(source=io.BytesIO(stock.encode()), filename="s.csv", actor=None, now=NOW).ok
    orders = (
        '[{"order_id": "A1", "email": "a@example.com", "placed_at": "2026-11-20T10:00:00Z",'
        ' "lines": [{"sku": "IG", "accounts": [{"username": "hist_one", '
        '"password": "Pa55-word-HISTORY", "two_factor_secret": "TOTPSECRETHISTORY"}]}]}]'
    )
    assert orders_import(
        source=io.BytesIO(orders.encode()), filename="o.json", actor=None, now=NOW
    ).ok


def test_database_dump_holds_no_plaintext_credentials() -> None:
    load_secrets()
    # Positive control: the secrets are stored (sealed) and can be opened.
    opened = {a.username: credentials_open(a.credentials_sealed) for a in Account.objects.all()}
    assert opened["stock_one"].password == "Pa55-word-STOCK"
    assert opened["hist_one"].two_factor_secret == "TOTPSECRETHISTORY"

    out = io.StringIO()
    call_command("dumpdata", "inventory", "orders", "compensation", stdout=out)
    dump = out.getvalue()
    assert "stock_one" in dump  # the dump is real
    raw_values: list[str] = []
    with connection.cursor() as cursor:
        for model in [
            *apps.get_app_config("inventory").get_models(),
            *apps.get_app_config("orders").get_models(),
        ]:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
            raw_values.extend(str(value) for row in cursor.fetchall() for value in row)
    raw = "\n".join(raw_values)
    assert "hist_one" in raw
    for secret in SECRETS:
        assert secret not in dump
        assert secret not in raw
        assert secret.lower() not in raw.lower()


def test_credentials_repr_never_shows_secrets() -> None:
    creds = Credentials(password="Pa55-word-STOCK")
    assert "Pa55" not in repr(creds) and "Pa55" not in str(creds) and "Pa55" not in f"{creds}"


def test_rotate_credentials_key_re_encrypts_every_account_under_the_new_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(CREDENTIALS_ENCRYPTION_KEYS=[old]):
        accounts = [
            make_account(
                credentials_sealed=credentials_seal(
                    Credentials(password=f"pw-{i}", email=f"{i}@mail.test")
                )
            )
            for i in range(5)
        ]
        before = dict(Account.objects.values_list("id", "credentials_sealed"))

    out = io.StringIO()
    with override_settings(CREDENTIALS_ENCRYPTION_KEYS=[new, old]):
        call_command("rotate_credentials_key", "--batch-size", "2", stdout=out)
    assert "re-encrypted the credentials of 5 account(s)" in out.getvalue()

    after = dict(Account.objects.values_list("id", "credentials_sealed"))
    assert all(after[a.pk] != before[a.pk] for a in accounts)
    with override_settings(CREDENTIALS_ENCRYPTION_KEYS=[new]):  # the old key can now be dropped
        assert [credentials_open(after[a.pk]).password for a in accounts] == [
            f"pw-{i}" for i in range(5)
        ]
    with override_settings(CREDENTIALS_ENCRYPTION_KEYS=[old]), pytest.raises(ValueError):
        credentials_open(after[accounts[0].pk])


@settings(max_examples=200, deadline=None)
@given(st.tuples(*(st.text() for _ in range(5))))
def test_the_import_sealer_seals_as_credentials_seal_does(secrets: tuple[str, ...]) -> None:
    """The stock import seals with `credentials_sealer` (its JSON written by hand): the token
    must hold the very text `json.dumps` writes, under the newest key, and open as ever."""
    credentials = Credentials(*secrets)
    token = credentials_sealer()(*secrets)

    plaintext = Fernet(settings_keys()[0].encode()).decrypt(token.encode())
    assert plaintext == json.dumps(dict(zip(CREDENTIAL_FIELDS, secrets, strict=True))).encode()
    assert credentials_open(token) == credentials
    assert credentials_open(credentials_seal(credentials)) == credentials


def test_the_import_sealer_uses_the_newest_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(CREDENTIALS_ENCRYPTION_KEYS=[new, old]):
        token = credentials_sealer()("pw", "", "", "", "")
    assert json.loads(Fernet(new.encode()).decrypt(token.encode())) == {
        "password": "pw",
        "email": "",
        "email_password": "",
        "two_factor_secret": "",
        "notes": "",
    }
