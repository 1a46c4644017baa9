"""Reading a stock CSV (interfaces.md §2): each row parsed and checked on its own (columns,
counters, e-mail, password, a known SKU), every byte hashed. Both ways of importing stock read
it: the plain two-pass path (`importing.py`) and PostgreSQL's COPY path (`stock_copy.py`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .account_fields import AccountFields, account_fields_parse
from .import_rows import Progress, RowError, csv_header, csv_records, csv_rows
from .models import INTERACTION_KINDS, Product

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


@dataclass(slots=True)
class StockRow:
    line: int
    product: Product
    fields: AccountFields


@dataclass
class StockFile:
    """One pass over a stock CSV: yields the rows that are fine on their own (no cross-row or
    database checks), counts every row and hashes every byte read."""

    source: IO[bytes]
    products: dict[str, Product | None]  # by SKU, shared by both passes
    errors: list[RowError]
    bar: Progress
    validated: bool = False  # the write pass: the rows passed every check before
    # `products` holds every product: an unknown SKU is not looked up (the COPY path reads the
    # file while its connection streams rows to the database, so it cannot ask anything else).
    all_products_known: bool = False
    rows_total: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)

    def rows(self) -> Iterator[StockRow]:
        records = csv_records(self.source, self.errors, self.hasher)
        header = csv_header(records, self.errors, required=STOCK_REQUIRED, optional=STOCK_OPTIONAL)
        if header is None:
            for _ in records:  # hash the rest of the file
                pass
            return
        for line, values in csv_rows(records, header, self.errors):
            self.bar.update()
            self.rows_total += 1
            if values is not None:
                row = self._row(line, values)
                if row is not None:
                    yield row

    def _row(self, line: int, values: dict[str, str]) -> StockRow | None:
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
        return StockRow(line=line, product=product, fields=fields)
