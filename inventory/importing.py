"""Imports of products and stock (docs/formats.md); orders live in `orders.services`.

Every import runs in two passes over the file (the stock import on PostgreSQL: see
`stock_import`, which writes a file of new accounts in one pass):

1. **validate** the whole file (streamed: only the keys needed to find duplicates are kept) and
   collect *every* error with its line number; nothing is written;
2. if there was no error (and this is not a dry run), **write** in one transaction, set-based
   (`bulk_create` in batches, one sealed credentials token per account), skipping the rows that
   are already present (products by SKU, accounts by platform + lower(username)).

The commands and the admin upload (preview = dry run, then confirm) call the same functions. The
machinery shared with the order import is in `import_rows.py` (files, rows, reports) and
`account_fields.py` (one account's fields).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import IO

from django.db import IntegrityError, connection, transaction

from .account_fields import existing_usernames
from .audit import Actor
from .import_rows import (
    BATCH_SIZE,
    ImportAborted,
    ImportReport,
    NoProgress,
    ProgressFactory,
    RowError,
    chunks,
    csv_header,
    csv_records,
    csv_rows,
    import_batch_create,
    import_batch_finish,
    progress_bar,
)
from .models import Account, ImportBatch, Platform, Product
from .services import stock_arrival_announce
from .stock_copy import stock_import_copy
from .stock_direct import Direct, stock_import_direct
from .stock_rows import StockFile, StockRecord, stock_record_account

PRODUCT_COLUMNS = ("sku", "name", "platform")


# --- Products ----------------------------------------------------------------------------------
_PLATFORMS = set(Platform.values)


def _product_row(values: dict[str, str], problems: list[str]) -> tuple[str, str, str]:
    sku, name, platform = values["sku"], values["name"], values["platform"].lower()
    if not sku:
        problems.append("sku is required")
    elif len(sku) > 64:
        problems.append("sku is longer than 64 characters")
    if not name:
        problems.append("name is required")
    elif len(name) > 200:
        problems.append("name is longer than 200 characters")
    if platform not in _PLATFORMS:
        problems.append(
            f"unknown platform {values['platform']!r} (one of: {', '.join(sorted(_PLATFORMS))})"
        )
    return sku, name, platform


def products_import(
    *,
    source: IO[bytes],
    filename: str,
    actor: Actor,
    now: datetime,
    dry_run: bool = False,
    progress: ProgressFactory | None = None,
) -> ImportReport:
    """`sku,name,platform`. Existing SKUs are skipped; one with another platform is an error."""
    report = ImportReport(kind=ImportBatch.Kind.PRODUCTS, filename=filename, dry_run=dry_run)
    errors = report.errors
    hasher = hashlib.sha256()
    records = csv_records(source, errors, hasher)
    header = csv_header(records, errors, required=PRODUCT_COLUMNS, optional=())
    new: dict[str, tuple[str, str, int]] = {}  # sku -> (name, platform, line)
    seen: dict[str, int] = {}
    bar = progress_bar(progress, "validating", None)
    if header is not None:
        for line, values in csv_rows(records, header, errors):
            bar.update()
            report.rows_total += 1
            if values is None:
                continue
            problems: list[str] = []
            sku, name, platform = _product_row(values, problems)
            if sku and sku in seen:
                problems.append(f"duplicate sku {sku!r} (first on line {seen[sku]})")
            elif sku:
                seen[sku] = line
            if problems:
                errors.extend(RowError(line, p) for p in problems)
                continue
            new[sku] = (name, platform, line)
    bar.close()
    for _ in records:  # hash the rest of a file whose header was rejected
        pass
    report.sha256 = hasher.hexdigest()
    if header is not None and report.rows_total == 0 and not errors:
        errors.append(RowError(2, "the file has a header but no rows"))
    existing = {
        sku: platform
        for chunk in chunks(list(new), BATCH_SIZE)
        for sku, platform in Product.objects.filter(sku__in=chunk).values_list("sku", "platform")
    }
    for sku, platform in existing.items():
        name, file_platform, line = new.pop(sku)
        if platform != file_platform:
            errors.append(
                RowError(
                    line,
                    f"sku {sku!r} already exists on platform {platform!r}, not {file_platform!r}",
                )
            )
        else:
            report.skipped += 1
    errors.sort(key=lambda e: e.line)
    report.created = len(new)
    if errors or dry_run:
        if errors:
            report.created = 0
        return report
    with transaction.atomic():
        batch = import_batch_create(kind=ImportBatch.Kind.PRODUCTS, report=report, actor=actor)
        created = Product.objects.bulk_create(
            [Product(sku=sku, name=n, platform=p) for sku, (n, p, _) in new.items()],
            batch_size=BATCH_SIZE,
        )
        report.product_ids = [p.pk for p in created if p.pk is not None]
        import_batch_finish(batch, report)
    return report


# --- Stock -------------------------------------------------------------------------------------
def stock_import(
    *,
    source: IO[bytes],
    filename: str,
    actor: Actor,
    now: datetime,
    dry_run: bool = False,
    progress: ProgressFactory | None = None,
) -> ImportReport:
    """Stock accounts with their baselines. An account already present for the same product
    (platform + lower(username), same spelling) is skipped; one held by another product, spelt
    differently, or repeated within the file is an error. Wakes fulfilment after commit.

    PostgreSQL: a file of valid new accounts streams straight into the accounts table
    (`stock_direct.py`); any other file (a row error, a username the database already holds), a
    preview and a source that cannot be rewound take the staging path (`stock_copy.py`: COPY
    into a staging table, set-based checks, one insert), which words every error. Elsewhere
    (SQLite): `stock_import_plain`."""
    if stock_copy_available():
        report = ImportReport(kind=ImportBatch.Kind.STOCK, filename=filename, dry_run=dry_run)
        seal = True
        if not dry_run and source.seekable():
            start = source.tell()
            direct = stock_import_direct(
                source=source, report=report, actor=actor, now=now, progress=progress
            )
            if direct is Direct.IMPORTED:
                return report
            source.seek(start)
            seal = direct is not Direct.ROW_ERROR  # that row will be an error again
        stock_import_copy(
            source=source,
            report=report,
            products={},
            actor=actor,
            now=now,
            progress=progress,
            seal=seal,
        )
        return report
    return stock_import_plain(
        source=source, filename=filename, actor=actor, now=now, dry_run=dry_run, progress=progress
    )


def stock_copy_available() -> bool:
    """COPY and the staging table need PostgreSQL (psycopg 3)."""
    return connection.vendor == "postgresql"


def stock_import_plain(
    *,
    source: IO[bytes],
    filename: str,
    actor: Actor,
    now: datetime,
    dry_run: bool = False,
    progress: ProgressFactory | None = None,
) -> ImportReport:
    """The stock import without COPY, in two passes (validate, then write with `bulk_create`);
    the path SQLite takes. Keeps {(platform, lower username): line} of the file in memory."""
    report = ImportReport(kind=ImportBatch.Kind.STOCK, filename=filename, dry_run=dry_run)
    products: dict[str, Product | None] = {}
    present = _stock_validate(source, report, products, progress)
    if report.errors:
        report.created = 0
    elif not dry_run:
        _stock_write(source, report, products, present, actor, progress)
    return report


def _stock_validate(
    source: IO[bytes],
    report: ImportReport,
    products: dict[str, Product | None],
    progress: ProgressFactory | None,
) -> set[int]:
    """Pass 1: every check, nothing written. Keeps only {(platform, lower username): line};
    returns the line numbers of the rows already present (skipped by pass 2)."""
    seen: dict[tuple[str, str], int] = {}
    present: set[int] = set()
    bar = progress_bar(progress, "validating", None)
    stock_file = StockFile(source, products, report.errors, bar)
    for chunk in chunks(stock_file.rows(), BATCH_SIZE):
        fresh: list[StockRecord] = []
        for row in chunk:
            key = (row.product.platform, row.username.lower())
            if key in seen:
                report.errors.append(
                    RowError(
                        row.line,
                        f"duplicate username {row.username!r} on "
                        f"{key[0]} (first on line {seen[key]})",
                    )
                )
                continue
            seen[key] = row.line
            fresh.append(row)
        created, skipped, problems = _stock_against_db(fresh, present=present)
        report.created += created
        report.skipped += skipped
        report.errors.extend(problems)
    bar.close()
    report.rows_total = stock_file.rows_total
    report.sha256 = stock_file.hasher.hexdigest()
    if not report.errors and report.rows_total == 0:
        report.errors.append(RowError(2, "the file has a header but no rows"))
    report.errors.sort(key=lambda e: e.line)
    return present


def _stock_write(
    source: IO[bytes],
    report: ImportReport,
    products: dict[str, Product | None],
    present: set[int],
    actor: Actor,
    progress: ProgressFactory | None,
) -> None:
    """Pass 2: write in one transaction, or nothing (the file changed since pass 1, or a
    concurrent import added some of the accounts: the unique constraint says so)."""
    source.seek(0)
    report.created = report.skipped = 0
    bar = progress_bar(progress, "importing", report.rows_total)
    stock_file = StockFile(source, products, [], NoProgress(), validated=True)
    product_ids: set[int] = set()
    try:
        with transaction.atomic():
            batch = import_batch_create(kind=ImportBatch.Kind.STOCK, report=report, actor=actor)
            for chunk in chunks(stock_file.rows(), BATCH_SIZE):
                accounts = [
                    stock_record_account(row, import_batch=batch)
                    for row in chunk
                    if row.line not in present
                ]
                Account.objects.bulk_create(accounts, batch_size=BATCH_SIZE)
                product_ids.update(a.product_id for a in accounts)
                report.created += len(accounts)
                report.skipped += len(chunk) - len(accounts)
                bar.update(len(chunk))
            if stock_file.errors or stock_file.hasher.hexdigest() != report.sha256:
                raise ImportAborted(RowError(1, "the file changed while it was being imported"))
            import_batch_finish(batch, report)
            report.product_ids = sorted(product_ids)
            if product_ids:
                stock_arrival_announce(product_ids=report.product_ids)
    except ImportAborted as exc:
        report.errors.append(exc.error)
        report.created = 0
    except IntegrityError:
        report.errors.append(
            RowError(
                1, "another import added some of these accounts at the same time; run it again"
            )
        )
        report.created = 0
    finally:
        bar.close()


def _stock_against_db(
    rows: list[StockRecord], present: set[int]
) -> tuple[int, int, list[RowError]]:
    """(to create, already present, errors) for rows already free of in-file duplicates;
    `present` collects the line numbers of the rows to skip."""
    by_platform: dict[str, list[StockRecord]] = {}
    for row in rows:
        by_platform.setdefault(row.product.platform, []).append(row)
    created = skipped = 0
    problems: list[RowError] = []
    for platform, group in by_platform.items():
        found = existing_usernames(
            platform=platform, usernames_lower=[r.username.lower() for r in group]
        )
        for row in group:
            hit = found.get(row.username.lower())
            if hit is None:
                created += 1
            elif hit == (row.username, row.product.pk):
                skipped += 1
                present.add(row.line)
            else:
                username, product_id = hit
                where = "another product" if product_id != row.product.pk else "this product"
                problems.append(
                    RowError(
                        row.line,
                        f"username {row.username!r} already exists on "
                        f"{platform} as {username!r} ({where})",
                    )
                )
    return created, skipped, problems
