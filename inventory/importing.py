"""Imports of products and stock (interfaces.md §2); orders live in `orders.services`.

Every import runs in two passes over the file:

1. **validate** the whole file (streamed: only the keys needed to find duplicates are kept) and
   collect *every* error with its line number; nothing is written;
2. if there was no error (and this is not a dry run), **write** in one transaction, set-based
   (`bulk_create` in batches, one sealed credentials token per account), skipping the rows that
   are already present (products by SKU, accounts by platform + lower(username)).

The commands and the admin upload (preview = dry run, then confirm) call the same functions.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from .audit import Actor
from .crypto import Credentials, credentials_seal
from .models import INTERACTION_KINDS, Account, ImportBatch, Platform, Product
from .services import stock_arrival_announce

BATCH_SIZE = 1000
MAX_COUNTER = 2_147_483_647  # PositiveIntegerField on PostgreSQL
PRODUCT_COLUMNS = ("sku", "name", "platform")
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
COUNTER_FIELDS = ("followers", *INTERACTION_KINDS)


# --- Results -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportReport:
    """What an import did (or, for a dry run / a rejected file, would do)."""

    kind: str
    filename: str
    dry_run: bool = False
    sha256: str = ""
    rows_total: int = 0
    created: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    batch_id: int | None = None
    product_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        text = (
            f"{self.kind} import of {self.filename}: {self.rows_total} row(s), "
            f"{verb} {self.created}, skipped {self.skipped} already present"
        )
        if self.errors:
            text += f", {len(self.errors)} error(s): nothing imported"
        return text


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...

    def close(self) -> Any: ...


# (description, total rows or None) -> a progress bar; the commands pass a tqdm factory.
ProgressFactory = Callable[[str, int | None], Progress]


class _NoProgress:
    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


def _progress(factory: ProgressFactory | None, desc: str, total: int | None) -> Progress:
    return factory(desc, total) if factory else _NoProgress()


class ImportAborted(Exception):
    """Raised inside the write transaction to roll it back (the report carries the reason)."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


# --- Reading files -----------------------------------------------------------------------------
def _decoded_lines(stream: IO[bytes], errors: list[RowError], hasher: Any) -> Iterator[str]:
    """Yield the file's physical lines as text; record every line that is not valid UTF-8."""
    for number, raw in enumerate(stream, start=1):
        hasher.update(raw)
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(
                RowError(number, f"not valid UTF-8 (byte {exc.start + 1}); save the file as UTF-8")
            )
            yield raw.decode("utf-8", "replace")


def csv_records(
    stream: IO[bytes], errors: list[RowError], hasher: Any
) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields), skipping blank lines. Stops at a CSV
    syntax error (recorded) because nothing after it can be trusted."""
    reader = csv.reader(_decoded_lines(stream, errors, hasher), strict=True)
    previous = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowError(reader.line_num or 1, f"malformed CSV: {exc}"))
            # Drain the rest so the hash covers the whole file.
            for _ in _decoded_lines(stream, [], hasher):
                pass
            return
        start, previous = previous + 1, reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        yield start, row


@dataclass(frozen=True, slots=True)
class _Header:
    columns: tuple[str, ...]


def _read_header(
    records: Iterator[tuple[int, list[str]]],
    errors: list[RowError],
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...],
) -> _Header | None:
    first = next(records, None)
    if first is None:
        if not errors:
            errors.append(RowError(1, "the file is empty (expected a header line)"))
        return None
    line, row = first
    columns = tuple(cell.strip().lower() for cell in row)
    problems = []
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    unknown = [c for c in columns if c not in required and c not in optional]
    if unknown:
        problems.append(
            f"unknown column(s): {', '.join(repr(c) for c in unknown)} "
            f"(allowed: {', '.join((*required, *optional))})"
        )
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        problems.append(f"duplicated column(s): {', '.join(duplicated)}")
    if problems:
        errors.append(RowError(line, "; ".join(problems)))
        return None
    return _Header(columns)


_UNSTRIPPED = frozenset({"password", "email_password"})  # spaces may belong to a secret


def _rows(
    records: Iterator[tuple[int, list[str]]], header: _Header, errors: list[RowError]
) -> Iterator[tuple[int, dict[str, str] | None]]:
    """Map each record to {column: stripped value}; None when its field count is wrong."""
    width = len(header.columns)
    for line, row in records:
        if len(row) != width:
            errors.append(RowError(line, f"expected {width} field(s), found {len(row)}"))
            yield line, None
            continue
        yield (
            line,
            {
                c: v if c in _UNSTRIPPED else v.strip()
                for c, v in zip(header.columns, row, strict=True)
            },
        )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- Field parsing shared with the order import ------------------------------------------------
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
    elif any(ch.isspace() for ch in username):
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
            validate_email(email)
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
    for chunk in _chunks(usernames_lower, BATCH_SIZE):
        rows = (
            Account.objects.annotate(username_lower=Lower("username"))
            .filter(platform=platform, username_lower__in=chunk)
            .values_list("username_lower", "username", "product_id")
        )
        for lower, username, product_id in rows:
            found[lower] = (username, product_id)
    return found


def _import_batch_create(*, kind: str, report: ImportReport, actor: Actor) -> ImportBatch:
    return ImportBatch.objects.create(
        kind=kind,
        filename=report.filename[:255],
        sha256=report.sha256,
        rows_total=report.rows_total,
        actor_id=actor.pk if actor is not None and actor.is_authenticated else None,
    )


def _import_batch_finish(batch: ImportBatch, report: ImportReport) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(
        rows_created=report.created, rows_skipped=report.skipped
    )
    report.batch_id = batch.pk


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
    header = _read_header(records, errors, required=PRODUCT_COLUMNS, optional=())
    new: dict[str, tuple[str, str, int]] = {}  # sku -> (name, platform, line)
    seen: dict[str, int] = {}
    bar = _progress(progress, "validating", None)
    if header is not None:
        for line, values in _rows(records, header, errors):
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
        for chunk in _chunks(list(new), BATCH_SIZE)
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
        batch = _import_batch_create(kind=ImportBatch.Kind.PRODUCTS, report=report, actor=actor)
        created = Product.objects.bulk_create(
            [Product(sku=sku, name=n, platform=p) for sku, (n, p, _) in new.items()],
            batch_size=BATCH_SIZE,
        )
        report.product_ids = [p.pk for p in created if p.pk is not None]
        _import_batch_finish(batch, report)
    return report


# --- Stock -------------------------------------------------------------------------------------
@dataclass(slots=True)
class _StockRow:
    line: int
    product: Product
    fields: AccountFields


def _stock_rows(
    source: IO[bytes],
    errors: list[RowError],
    hasher: Any,
    products: dict[str, Product | None],
    bar: Progress,
    counter: list[int],
    validated: bool = False,
) -> Iterator[_StockRow]:
    """Parse and check each row on its own (no cross-row or database checks)."""
    records = csv_records(source, errors, hasher)
    header = _read_header(records, errors, required=STOCK_REQUIRED, optional=STOCK_OPTIONAL)
    if header is None:
        for _ in records:
            pass
        return
    for line, values in _rows(records, header, errors):
        bar.update()
        counter[0] += 1
        if values is None:
            continue
        fields, problems = account_fields_parse(values, password_required=True, validated=validated)
        sku = values["sku"]
        if sku not in products:
            products[sku] = Product.objects.filter(sku=sku).first() if sku else None
        product = products[sku]
        if not sku:
            problems.insert(0, "sku is required")
        elif product is None:
            problems.insert(0, f"unknown sku {sku!r} (import it with import_products first)")
        if problems or fields is None or product is None:
            errors.extend(RowError(line, p) for p in problems)
            continue
        yield _StockRow(line=line, product=product, fields=fields)


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
    differently, or repeated within the file is an error. Wakes fulfilment after commit."""
    report = ImportReport(kind=ImportBatch.Kind.STOCK, filename=filename, dry_run=dry_run)
    errors = report.errors
    products: dict[str, Product | None] = {}
    counter = [0]

    # Pass 1: validate everything. Keep only {(platform, lower username): line} and the line
    # numbers of the rows already present (to skip them in pass 2).
    seen: dict[tuple[str, str], int] = {}
    skip_lines: set[int] = set()
    hasher = hashlib.sha256()
    bar = _progress(progress, "validating", None)
    rows = _stock_rows(source, errors, hasher, products, bar, counter)
    for chunk in _chunks(rows, BATCH_SIZE):
        fresh: list[_StockRow] = []
        for row in chunk:
            key = (row.product.platform, row.fields.username.lower())
            if key in seen:
                errors.append(
                    RowError(
                        row.line,
                        f"duplicate username {row.fields.username!r} on "
                        f"{key[0]} (first on line {seen[key]})",
                    )
                )
                continue
            seen[key] = row.line
            fresh.append(row)
        created, skipped, problems = _stock_against_db(fresh, present=skip_lines)
        report.created += created
        report.skipped += skipped
        errors.extend(problems)
    bar.close()
    report.rows_total = counter[0]
    report.sha256 = hasher.hexdigest()
    del seen
    if not errors and report.rows_total == 0:
        errors.append(RowError(2, "the file has a header but no rows"))
    errors.sort(key=lambda e: e.line)
    if errors or dry_run:
        if errors:
            report.created = 0
        return report

    # Pass 2: write, in one transaction, re-checking presence against the database.
    source.seek(0)
    expected_sha = report.sha256
    report.created = report.skipped = 0
    hasher = hashlib.sha256()
    write_errors: list[RowError] = []
    bar = _progress(progress, "importing", report.rows_total)
    product_ids: set[int] = set()
    try:
        with transaction.atomic():
            batch = _import_batch_create(kind=ImportBatch.Kind.STOCK, report=report, actor=actor)
            rows = _stock_rows(
                source, write_errors, hasher, products, _NoProgress(), [0], validated=True
            )
            for chunk in _chunks(rows, BATCH_SIZE):
                # Rows present since pass 1 (a concurrent import) hit the unique constraint.
                accounts = []
                for row in chunk:
                    if row.line in skip_lines:
                        report.skipped += 1
                        continue
                    accounts.append(row.fields.to_account(product=row.product, import_batch=batch))
                    product_ids.add(row.product.pk)
                Account.objects.bulk_create(accounts, batch_size=BATCH_SIZE)
                report.created += len(accounts)
                bar.update(len(chunk))
            if write_errors or hasher.hexdigest() != expected_sha:
                raise ImportAborted(RowError(1, "the file changed while it was being imported"))
            _import_batch_finish(batch, report)
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
    return report


def _stock_against_db(rows: list[_StockRow], present: set[int]) -> tuple[int, int, list[RowError]]:
    """(to create, already present, errors) for rows already free of in-file duplicates;
    `present` collects the line numbers of the rows to skip."""
    by_platform: dict[str, list[_StockRow]] = {}
    for row in rows:
        by_platform.setdefault(row.product.platform, []).append(row)
    created = skipped = 0
    problems: list[RowError] = []
    for platform, group in by_platform.items():
        found = existing_usernames(
            platform=platform, usernames_lower=[r.fields.username.lower() for r in group]
        )
        for row in group:
            hit = found.get(row.fields.username.lower())
            if hit is None:
                created += 1
            elif hit == (row.fields.username, row.product.pk):
                skipped += 1
                present.add(row.line)
            else:
                username, product_id = hit
                where = "another product" if product_id != row.product.pk else "this product"
                problems.append(
                    RowError(
                        row.line,
                        f"username {row.fields.username!r} already exists on "
                        f"{platform} as {username!r} ({where})",
                    )
                )
    return created, skipped, problems
