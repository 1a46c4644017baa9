"""One account's fields as an import gives them (a stock CSV row or an order file's JSON object):
parsed and validated in one place, shared by the stock and order imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db.models.functions import Lower

from .crypto import Credentials, credentials_seal
from .import_rows import BATCH_SIZE, chunks
from .models import INTERACTION_KINDS, Account, Product
from .validation import COUNTER_MAX

MAX_COUNTER = COUNTER_MAX  # a sane bound, well inside PositiveIntegerField
COUNTER_FIELDS = ("followers", *INTERACTION_KINDS)
# A username holds none (the stock reader tests usernames with the same pattern).
USERNAME_WHITESPACE = re.compile(r"\s")


class _StockEmailValidator(EmailValidator):
    """Django's e-mail check (`validate_email`), for a million rows: the verdict on each domain
    is remembered (a stock file repeats a handful of mail domains) and the user-part pattern is
    held compiled, not behind Django's lazy wrapper. tests/test_account_fields_email.py
    holds it to the same answers as `validate_email`."""

    def __init__(self) -> None:
        super().__init__()
        lazy = EmailValidator.user_regex
        self._user = re.compile(lazy.pattern, lazy.flags)
        self._domains: dict[str, bool] = {}

    def __call__(self, value: str | None) -> None:
        if not value or "@" not in value or len(value) > 320:
            raise ValidationError(self.message, code=self.code, params={"value": value})
        user_part, domain_part = value.rsplit("@", 1)
        if not self._user.match(user_part):
            raise ValidationError(self.message, code=self.code, params={"value": value})
        valid = self._domains.get(domain_part)
        if valid is None:
            valid = domain_part in self.domain_allowlist or self.validate_domain_part(domain_part)
            if len(self._domains) < 10_000:
                self._domains[domain_part] = valid
        if not valid:
            raise ValidationError(self.message, code=self.code, params={"value": value})


validate_stock_email = _StockEmailValidator()


@dataclass(frozen=True, slots=True)
class AccountFields:
    username: str
    user_id: str
    credentials: Credentials
    supplier: str
    baseline: dict[str, int | None]

    def to_account(self, *, product: Product, **extra: Any) -> Account:
        return Account(
            product=product,
            platform=product.platform,
            username=self.username,
            platform_user_id=self.user_id,
            credentials_sealed=credentials_seal(self.credentials),
            supplier=self.supplier,
            **{f"baseline_{kind}": value for kind, value in self.baseline.items()},
            **extra,
        )


def _text(values: Mapping[str, Any], key: str, problems: list[str], *, max_length: int) -> str:
    value = values.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(f"{key} must be text")
        return ""
    text = str(value).strip()
    if len(text) > max_length:
        problems.append(f"{key} is longer than {max_length} characters")
    return text


def _counter(values: Mapping[str, Any], key: str, problems: list[str]) -> int | None:
    value = values.get(key)
    if type(value) is str:  # fast path for CSV cells: "", "123"
        if not value:
            return None
        if value.isdigit() and value.isascii() and len(value) < 10:
            return int(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # unknown, never guessed as 0
    if isinstance(value, bool):
        problems.append(f"{key} must be a whole number ≥ 0, got {value!r}")
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
            problems.append(f"{key} must not be negative, got {text}")
            return None
        if not text.isascii() or not text.isdigit():
            problems.append(f"{key} must be a whole number ≥ 0 or blank, got {value.strip()!r}")
            return None
        number = int(text)
    elif isinstance(value, int):
        number = value
    else:
        problems.append(f"{key} must be a whole number ≥ 0, got {value!r}")
        return None
    if number < 0:
        problems.append(f"{key} must not be negative, got {number}")
        return None
    if number > MAX_COUNTER:
        problems.append(f"{key} is too large ({number})")
        return None
    return number


def account_fields_parse(
    values: Mapping[str, Any], *, password_required: bool, validated: bool = False
) -> tuple[AccountFields | None, list[str]]:
    """Validate one account's fields (a CSV row or a JSON object). Returns (fields, problems).
    `validated`: the row passed this check before (the write pass), skip the costly checks."""
    problems: list[str] = []
    username = _text(values, "username", problems, max_length=150)
    if not username:
        problems.append("username is required")
    elif USERNAME_WHITESPACE.search(username):
        problems.append(f"username {username!r} contains whitespace")
    password = values.get("password")
    password = "" if password is None else password
    if not isinstance(password, str):
        problems.append("password must be text")
        password = ""
    elif password_required and not password.strip():
        problems.append("password is required")
    email = _text(values, "email", problems, max_length=254)
    if email and not validated:
        try:
            validate_stock_email(email)
        except ValidationError:
            # The account's e-mail is a credential: name the column, never echo the value
            # (the preview page and the command's output end up in tickets and logs).
            problems.append("email is not a valid e-mail address")
    secrets = {}
    for key in ("email_password", "two_factor_secret", "notes"):
        raw = values.get(key)
        if raw is not None and not isinstance(raw, str):
            problems.append(f"{key} must be text")
            raw = ""
        secrets[key] = (raw or "").strip() if key != "email_password" else (raw or "")
    user_id = _text(values, "user_id", problems, max_length=64)
    supplier = _text(values, "supplier", problems, max_length=100)
    baseline = {kind: _counter(values, kind, problems) for kind in COUNTER_FIELDS}
    if problems:
        return None, problems
    return (
        AccountFields(
            username=username,
            user_id=user_id,
            credentials=Credentials(
                password=password,
                email=email,
                email_password=secrets["email_password"],
                two_factor_secret=secrets["two_factor_secret"],
                notes=secrets["notes"],
            ),
            supplier=supplier,
            baseline=baseline,
        ),
        [],
    )


def existing_usernames(
    *, platform: str, usernames_lower: Iterable[str]
) -> dict[str, tuple[str, int]]:
    """{lower(username): (username, product_id)} of accounts already in the database."""
    found: dict[str, tuple[str, int]] = {}
    for chunk in chunks(usernames_lower, BATCH_SIZE):
        rows = (
            Account.objects.annotate(username_lower=Lower("username"))
            .filter(platform=platform, username_lower__in=chunk)
            .values_list("username_lower", "username", "product_id")
        )
        for lower, username, product_id in rows:
            found[lower] = (username, product_id)
    return found
