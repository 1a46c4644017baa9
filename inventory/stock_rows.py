"""Reading a stock CSV (interfaces.md §2): each row parsed and checked on its own (columns,
counters, e-mail, password, a known SKU), every byte hashed. Every way of importing stock reads
it: the plain two-pass path (`importing.py`), PostgreSQL's staging path (`stock_copy.py`) and
its direct path (`stock_direct.py`).

A row takes one of two roads to the same answer. The common row (plain counters, a known SKU, a
username without spaces…) is read by `_plain_record`, written for a million rows; anything it
does not recognise goes through the general check (`account_fields_parse`, shared with the
order import), which alone words problems. `_plain_record` only ever answers "this row, so" or
"not sure": tests/test_stock_rows.py holds it to the general check's answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import IO, Any, NamedTuple

from django.core.exceptions import ValidationError

from .account_fields import (
    COUNTER_FIELDS,
    USERNAME_WHITESPACE,
    account_fields_parse,
    validate_stock_email,
)
from .crypto import Credentials, credentials_seal
from .import_rows import Progress, RowError, csv_header, csv_records, csv_values
from .models import INTERACTION_KINDS, Account, Product

STOCK_REQUIRED = ("sku", "username", "password")
STOCK_OPTIONAL = (
    "user_id",
    "email",
    "email_password",
    "two_factor_secret",
    "followers",
    *INTERACTION_KINDS,
    "supplier",
    "notes",
)


class StockRecord(NamedTuple):
    """One valid row of a stock file: an account to create (or skip, when present)."""

    line: int
    product: Product
    username: str
    user_id: str
    supplier: str
    # The secrets, sealed together (inventory.crypto); named as in `Credentials`.
    password: str
    email: str
    email_password: str
    two_factor_secret: str
    notes: str
    baseline: tuple[int | None, ...]  # in COUNTER_FIELDS order; None = unknown


@dataclass
class StockFile:
    """One pass over a stock CSV: yields the rows that are fine on their own (no cross-row or
    database checks), counts every row and hashes every byte read."""

    source: IO[bytes]
    products: dict[str, Product | None]  # by SKU, shared by both passes
    errors: list[RowError]
    bar: Progress
    validated: bool = False  # the write pass: the rows passed every check before
    # `products` holds every product: an unknown SKU is not looked up (the COPY paths read the
    # file while their connection streams rows to the database, so they cannot ask anything).
    all_products_known: bool = False
    rows_total: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)

    def rows(self) -> Iterator[StockRecord]:
        records = csv_records(self.source, self.errors, self.hasher)
        header = csv_header(records, self.errors, required=STOCK_REQUIRED, optional=STOCK_OPTIONAL)
        if header is None:
            for _ in records:  # hash the rest of the file
                pass
            return
        width, pick = len(header.columns), _cells_picker(header.columns)
        products, plain_record, update = self.products, _plain_record, self.bar.update
        for line, cells in records:
            update()
            self.rows_total += 1
            record = None
            if len(cells) == width:
                cells.append("")  # what `pick` reads for an absent optional column
                record = plain_record(line, pick(cells), products)
                cells.pop()
            if record is None:
                values = csv_values(line, cells, header, self.errors)
                record = None if values is None else self._checked(line, values)
            if record is not None:
                yield record

    def _checked(self, line: int, values: dict[str, str]) -> StockRecord | None:
        """The general check of one row: its record, or None with every problem recorded."""
        fields, problems = account_fields_parse(
            values, password_required=True, validated=self.validated
        )
        sku = values["sku"]
        if sku not in self.products and not self.all_products_known:
            self.products[sku] = Product.objects.filter(sku=sku).first() if sku else None
        product = self.products.get(sku)
        if not sku:
            problems.insert(0, "sku is required")
        elif product is None:
            problems.insert(0, f"unknown sku {sku!r} (import it with import_products first)")
        if problems or fields is None or product is None:
            self.errors.extend(RowError(line, p) for p in problems)
            return None
        credentials = fields.credentials
        return StockRecord(
            line,
            product,
            fields.username,
            fields.user_id,
            fields.supplier,
            credentials.password,
            credentials.email,
            credentials.email_password,
            credentials.two_factor_secret,
            credentials.notes,
            tuple(fields.baseline[kind] for kind in COUNTER_FIELDS),
        )


def stock_record_account(record: StockRecord, **extra: Any) -> Account:
    """The account a record creates (unsaved), its credentials sealed."""
    product = record.product
    return Account(
        product=product,
        platform=product.platform,
        username=record.username,
        platform_user_id=record.user_id,
        credentials_sealed=credentials_seal(
            Credentials(
                password=record.password,
                email=record.email,
                email_password=record.email_password,
                two_factor_secret=record.two_factor_secret,
                notes=record.notes,
            )
        ),
        supplier=record.supplier,
        **{
            f"baseline_{kind}": value
            for kind, value in zip(COUNTER_FIELDS, record.baseline, strict=True)
        },
        **extra,
    )


# The cells `_plain_record` reads, in this order (the counters last).
_PICKED = (
    "sku",
    "username",
    "password",
    "user_id",
    "email",
    "email_password",
    "two_factor_secret",
    "supplier",
    "notes",
    *COUNTER_FIELDS,
)


def _cells_picker(columns: tuple[str, ...]) -> Callable[[list[str]], tuple[str, ...]]:
    """Cells in `_PICKED` order; an absent column reads the "" appended after the last cell."""
    position = {column: index for index, column in enumerate(columns)}
    return itemgetter(*(position.get(name, len(columns)) for name in _PICKED))


def _plain_record(
    line: int, cells: tuple[str, ...], products: dict[str, Product | None]
) -> StockRecord | None:
    """The record of a row in the common shape, exactly as the general check would make it
    (values stripped but the two passwords; blank counter = unknown); None when the row is not
    plainly valid: the general check decides and words the problems."""
    sku, username, password, user_id, email, email_password, secret, supplier, notes = cells[:9]
    sku = sku.strip()
    product = products.get(sku) if sku else None
    username, user_id, email, supplier = (
        username.strip(),
        user_id.strip(),
        email.strip(),
        supplier.strip(),
    )
    if (
        product is None
        or not 0 < len(username) <= 150
        or USERNAME_WHITESPACE.search(username)
        or not password.strip()
        or len(user_id) > 64
        or len(supplier) > 100
        or len(email) > 254
    ):
        return None
    counters = cells[9:]
    digits = "".join(counters)
    if digits and not (digits.isdigit() and digits.isascii() and max(map(len, counters)) < 10):
        return None
    if email:
        try:
            validate_stock_email(email)
        except ValidationError:
            return None
    return StockRecord(
        line,
        product,
        username,
        user_id,
        supplier,
        password,
        email,
        email_password,
        secret.strip(),
        notes.strip(),
        tuple([int(c) if c else None for c in counters]) if digits else _UNKNOWN,
    )


_UNKNOWN: tuple[int | None, ...] = (None,) * len(COUNTER_FIELDS)
