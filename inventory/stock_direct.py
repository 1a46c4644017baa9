"""The stock import's fast path on PostgreSQL: a file of new accounts streams straight into the
accounts table (psycopg 3's COPY), as the benchmark's "Fernet + COPY" anchor does, with every row
check on the way.

Most stock files are new accounts, and then checking first (`stock_copy.py`: staging table,
set-based checks, one INSERT) costs a second write of every row that cannot overlap the file's
reading and sealing. Here the database does the work while Python reads: each row is checked on
its own, sealed and sent; the unique constraint (the very `lower(username)` per platform that
defines "the same username") stops a username repeated in the file or already in stock.

Anything but a file of valid new accounts gives up: the first row error, the first username
the database already holds (a re-import, a repeat), or a concurrent import. Giving up rolls back
everything (the batch record included) and the caller runs the staging path from the start of the
file, which reports every error with its line, skips what is present, or writes. Each COPY
statement covers one chunk of rows, so the database says no after at most one chunk.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from itertools import islice
from typing import IO, Any

from django.db import IntegrityError, connection, transaction

from .account_fields import COUNTER_FIELDS
from .audit import Actor
from .crypto import credentials_sealer
from .import_rows import (
    ImportReport,
    ProgressFactory,
    import_batch_create,
    import_batch_finish,
    progress_bar,
)
from .models import Account, ImportBatch, Product
from .services import stock_arrival_announce
from .stock_rows import StockFile

CHUNK_ROWS = 20_000
_BASELINES = tuple(f"baseline_{kind}" for kind in COUNTER_FIELDS)
_COLUMNS = (
    ("product_id", "int8"),
    ("platform", "text"),
    ("username", "text"),
    ("platform_user_id", "text"),
    ("credentials_sealed", "text"),
    ("supplier", "text"),
    *((column, "int4") for column in _BASELINES),
    ("state", "text"),
    ("delivery_kind", "text"),
    ("import_batch_id", "int8"),
    ("created_at", "timestamptz"),
)


class Direct(Enum):
    """How the direct path ended."""

    IMPORTED = "imported"  # `report` filled, the accounts written
    ROW_ERROR = "row error"  # nothing written: a row is wrong on its own, the file is rejected
    REFUSED = "refused"  # nothing written: the database holds one of the usernames already


class _RowError(Exception):
    pass


def stock_import_direct(
    *,
    source: IO[bytes],
    report: ImportReport,
    actor: Actor,
    now: datetime,
    progress: ProgressFactory | None,
) -> Direct:
    """Import a file of valid new accounts and fill `report`. Anything else rolls back and
    leaves `report` as it was; the caller rewinds `source` for the staging path."""
    try:
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            connection.wrap_database_errors,  # psycopg's errors (COPY's own) as Django's
        ):
            _stream(cursor.cursor, source, report, actor, now, progress)
    except (_RowError, IntegrityError) as exc:
        report.rows_total = report.created = 0
        report.sha256 = ""
        report.errors.clear()
        report.batch_id = None
        report.product_ids = []
        return Direct.ROW_ERROR if isinstance(exc, _RowError) else Direct.REFUSED
    return Direct.IMPORTED


def _stream(
    cursor: Any,
    source: IO[bytes],
    report: ImportReport,
    actor: Actor,
    now: datetime,
    progress: ProgressFactory | None,
) -> None:
    products: dict[str, Product | None] = {p.sku: p for p in Product.objects.all()}  # a few
    batch = import_batch_create(kind=ImportBatch.Kind.STOCK, report=report, actor=actor)
    bar = progress_bar(progress, "importing", None)
    stock_file = StockFile(source, products, report.errors, bar, all_products_known=True)
    rows, errors, seal = stock_file.rows(), report.errors, credentials_sealer()
    statement = (
        f"COPY {Account._meta.db_table} ({', '.join(name for name, _ in _COLUMNS)}) "
        "FROM STDIN (FORMAT BINARY)"
    )
    in_stock, product_ids = Account.State.IN_STOCK, set()
    try:
        sent = CHUNK_ROWS
        while sent == CHUNK_ROWS:  # a short chunk: the whole file is read
            sent = 0
            with cursor.copy(statement) as copy:
                copy.set_types([kind for _, kind in _COLUMNS])
                for row in islice(rows, CHUNK_ROWS):
                    if errors:
                        raise _RowError
                    product = row.product
                    product_ids.add(product.id)
                    copy.write_row(
                        (
                            product.id,
                            product.platform,
                            row.username,
                            row.user_id,
                            seal(
                                row.password,
                                row.email,
                                row.email_password,
                                row.two_factor_secret,
                                row.notes,
                            ),
                            row.supplier,
                            *row.baseline,
                            in_stock,
                            "",
                            batch.pk,
                            now,
                        )
                    )
                    sent += 1
            report.created += sent
    finally:
        bar.close()
    if errors or report.created == 0:  # the last rows, or none (the staging path words it)
        raise _RowError
    report.rows_total = stock_file.rows_total
    report.sha256 = stock_file.hasher.hexdigest()
    ImportBatch.objects.filter(pk=batch.pk).update(
        sha256=report.sha256, rows_total=report.rows_total
    )
    import_batch_finish(batch, report)
    report.product_ids = sorted(product_ids)
    stock_arrival_announce(product_ids=report.product_ids)
