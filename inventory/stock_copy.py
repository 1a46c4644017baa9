"""The stock import on PostgreSQL for a preview and for every file the direct path
(`stock_direct.py`) declines (a row error, a username the database already holds, a source that
cannot be read twice): one pass over the file, COPY into a staging table, then the database does
the rest set-based.

1. Each row is parsed and checked on its own (`stock_rows.StockFile`), its credentials sealed
   (not for a dry run, nor once the file has an error: nothing will be written), and streamed
   with psycopg 3's `cursor.copy` (binary format) into a temporary table. Nothing of the file
   stays in memory, whatever its size: no set of usernames, no list of rows.
2. The database finds what a row alone cannot show, with the same `lower()` as the unique
   constraint: a username repeated in the file (every copy after the first is an error), and
   usernames already in stock (one join with the accounts table through the constraint's
   index): the same account (same spelling, same product) is skipped, anything else is an error.
3. No error and not a dry run: ONE `INSERT … SELECT` writes every new account in file order,
   in the transaction that records the import batch and announces the stock. A concurrent
   import adding the same accounts meets the unique constraint: nothing is written.

Same report, same messages, same guarantees as the plain path (`importing.py`), which SQLite
(a newcomer's database) keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import IO, Any

from django.db import IntegrityError, connection, transaction

from .account_fields import COUNTER_FIELDS
from .audit import Actor
from .crypto import credentials_sealer
from .import_rows import (
    ImportReport,
    ProgressFactory,
    RowError,
    import_batch_create,
    import_batch_finish,
    progress_bar,
)
from .models import Account, ImportBatch, Product
from .services import stock_arrival_announce
from .stock_rows import StockFile

STAGING = "inventory_stock_staging"
MATCHES = "inventory_stock_matches"
_BASELINES = tuple(f"baseline_{kind}" for kind in COUNTER_FIELDS)
_COLUMNS = (
    "line",
    "product_id",
    "platform",
    "username",
    "platform_user_id",
    "credentials_sealed",
    "supplier",
    *_BASELINES,
)
# The staging table's column types, for COPY's binary format (no text to parse on either side).
_TYPES = ("int4", "int8", "text", "text", "text", "text", "text", *(("int4",) * len(_BASELINES)))


def stock_import_copy(
    *,
    source: IO[bytes],
    report: ImportReport,
    products: dict[str, Product | None],
    actor: Actor,
    now: datetime,
    progress: ProgressFactory | None,
    seal: bool = True,
) -> None:
    """Fill `report` (see the module docstring); writes only when the file has no error and the
    report is not a dry run. `seal=False`: the file is known to have an error (the direct path
    met it), so no row is worth sealing; should the file show none now, it changed meanwhile
    and nothing is written either."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _staging_create(cursor)
            try:
                _copy_rows(cursor, source, report, products, progress, seal=seal)
                _check_in_database(cursor, report)
                if not report.errors and not report.dry_run:
                    _write(cursor, report, actor, now)
            finally:
                cursor.execute(f"DROP TABLE IF EXISTS {STAGING}, {MATCHES}")
    except IntegrityError:
        report.errors.append(
            RowError(
                1, "another import added some of these accounts at the same time; run it again"
            )
        )
    if report.errors:
        report.created = 0
        report.batch_id = None
        report.product_ids = []


def _staging_create(cursor: Any) -> None:
    baselines = ", ".join(f"{column} integer" for column in _BASELINES)
    cursor.execute(f"DROP TABLE IF EXISTS {STAGING}, {MATCHES}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {STAGING} (line integer, product_id bigint, "
        f"platform text, username text, platform_user_id text, credentials_sealed text, "
        f"supplier text, {baselines})"
    )


def _copy_rows(
    cursor: Any,
    source: IO[bytes],
    report: ImportReport,
    products: dict[str, Product | None],
    progress: ProgressFactory | None,
    *,
    seal: bool,
) -> None:
    """Pass over the file: row checks in Python, the rest streamed to the staging table."""
    bar = progress_bar(progress, "reading", None)
    products.update((p.sku, p) for p in Product.objects.all())  # a shop has few products
    stock_file = StockFile(source, products, report.errors, bar, all_products_known=True)
    sealing, sealer = seal and not report.dry_run, credentials_sealer()
    statement = f"COPY {STAGING} ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with cursor.cursor.copy(statement) as copy:
        copy.set_types(_TYPES)
        for row in stock_file.rows():
            sealing = sealing and not report.errors  # an error: nothing will be written
            product = row.product
            copy.write_row(
                (
                    row.line,
                    product.pk,
                    product.platform,
                    row.username,
                    row.user_id,
                    sealer(
                        row.password,
                        row.email,
                        row.email_password,
                        row.two_factor_secret,
                        row.notes,
                    )
                    if sealing
                    else "",
                    row.supplier,
                    *row.baseline,
                )
            )
    bar.close()
    report.rows_total = stock_file.rows_total
    report.sha256 = stock_file.hasher.hexdigest()
    if not report.errors and report.rows_total == 0:
        report.errors.append(RowError(2, "the file has a header but no rows"))
    if not report.errors and not seal and not report.dry_run:
        report.errors.append(RowError(1, "the file changed while it was being imported"))
    cursor.execute(f"ANALYZE {STAGING}")


def _check_in_database(cursor: Any, report: ImportReport) -> None:
    """Repeated usernames and usernames already in stock, as the unique constraint sees them."""
    duplicates: set[int] = set()
    cursor.execute(
        f"""
        SELECT line, username, platform, first_line FROM (
            SELECT line, username, platform,
                   min(line) OVER (PARTITION BY platform, lower(username)) AS first_line
              FROM {STAGING}) AS repeated
         WHERE line <> first_line ORDER BY line
        """  # noqa: S608 - our own temporary table
    )
    for line, username, platform, first_line in cursor.fetchall():
        duplicates.add(line)
        report.errors.append(
            RowError(
                line,
                f"duplicate username {username!r} on {platform} (first on line {first_line})",
            )
        )
    accounts = Account._meta.db_table
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {MATCHES} AS
        SELECT s.line, s.username, s.platform, s.product_id,
               a.username AS existing, a.product_id AS existing_product
          FROM {STAGING} s
          JOIN {accounts} a ON lower(a.username) = lower(s.username) AND a.platform = s.platform
        """  # noqa: S608 - table names from the model and our own temporary tables
    )
    cursor.execute(
        f"SELECT count(*) FROM {MATCHES} "  # noqa: S608
        "WHERE existing = username AND existing_product = product_id"
    )
    report.skipped = cursor.fetchone()[0]
    cursor.execute(
        f"SELECT line, username, platform, existing, existing_product, product_id "  # noqa: S608
        f"FROM {MATCHES} WHERE existing <> username OR existing_product <> product_id "
        "ORDER BY line"
    )
    for line, username, platform, existing, existing_product, product_id in cursor.fetchall():
        if line in duplicates:
            continue  # reported as a repeat of an earlier line already
        where = "another product" if existing_product != product_id else "this product"
        report.errors.append(
            RowError(
                line,
                f"username {username!r} already exists on {platform} as {existing!r} ({where})",
            )
        )
    report.errors.sort(key=lambda e: e.line)
    cursor.execute(f"SELECT count(*) FROM {STAGING}")  # noqa: S608
    report.created = cursor.fetchone()[0] - report.skipped


def _write(cursor: Any, report: ImportReport, actor: Actor, now: datetime) -> None:
    """Every new account in one statement, in file order; the batch record; the announcement."""
    batch = import_batch_create(kind=ImportBatch.Kind.STOCK, report=report, actor=actor)
    columns = ", ".join(_COLUMNS[1:])
    cursor.execute(
        f"""
        INSERT INTO {Account._meta.db_table}
               ({columns}, state, delivery_kind, import_batch_id, created_at)
        SELECT {columns}, %s, '', %s, %s
          FROM {STAGING} s
         WHERE NOT EXISTS (SELECT 1 FROM {MATCHES} m WHERE m.line = s.line)
         ORDER BY s.line
        """,  # noqa: S608 - table and column names are ours; values are parameters
        [Account.State.IN_STOCK, batch.pk, now],
    )
    report.created = cursor.rowcount
    cursor.execute(
        f"SELECT DISTINCT product_id FROM {STAGING} s "  # noqa: S608
        f"WHERE NOT EXISTS (SELECT 1 FROM {MATCHES} m WHERE m.line = s.line) ORDER BY 1"
    )
    report.product_ids = [product_id for (product_id,) in cursor.fetchall()]
    import_batch_finish(batch, report)
    if report.product_ids:
        stock_arrival_announce(product_ids=report.product_ids)
