"""Supplier and stock quality (docs/api.md): of the accounts delivered to customers, how many
came back as approved compensation, per supplier, product or import batch.

Reads only. Definitions (docs/decisions.md, "Quality report"):
- *delivered*: accounts delivered to a customer's order line, as a sale or as a replacement,
  counted by their delivery time (`--days N`: delivered in the last N days);
- *failed*: those of them whose compensation was approved, by the rules or by staff (an account
  is approved at most once: `account_replaced_once`);
- *failure rate*: failed / delivered, 4 decimals;
- *weekly*: per supplier and per week of delivery (Monday, UTC), the failure rate of the accounts
  delivered that week, as known today.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncWeek

from compensation.models import AccountDecision, Decision
from inventory.models import Account, ImportBatch, Product

KEYS: tuple[str, ...] = ("supplier", "product", "import_batch")
NONE_KEY = "(none)"
CSV_HEADER: tuple[str, ...] = (
    "key",
    "delivered",
    "failed",
    "failure_rate",
    "name",
    "top_rule",
    "top_rule_count",
    "in_stock",
)
_FIELD = {"supplier": "supplier", "product": "product_id", "import_batch": "import_batch_id"}
_FOUR_PLACES = Decimal("0.0001")


def failure_rate(failed: int, delivered: int) -> Decimal:
    """failed / delivered rounded half-up to 4 places (0 when nothing was delivered)."""
    if delivered <= 0:
        return Decimal("0.0000")
    return (Decimal(failed) / Decimal(delivered)).quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class QualityRow:
    key: str
    name: str
    delivered: int
    failed: int
    top_rule: str
    top_rule_count: int
    in_stock: int
    # What the retire action needs: the supplier's name or the import batch's id.
    source: str | int | None

    @property
    def failure_rate(self) -> Decimal:
        return failure_rate(self.failed, self.delivered)

    def csv_row(self) -> list[Any]:
        return [
            self.key,
            self.delivered,
            self.failed,
            f"{self.failure_rate:.4f}",
            self.name,
            self.top_rule,
            self.top_rule_count,
            self.in_stock,
        ]


@dataclass(frozen=True)
class WeekPoint:
    week: date
    delivered: int
    failed: int

    @property
    def failure_rate(self) -> Decimal:
        return failure_rate(self.failed, self.delivered)


@dataclass(frozen=True)
class SupplierSeries:
    supplier: str
    points: list[WeekPoint]


def _delivered(*, now: datetime, days: int | None) -> QuerySet[Account]:
    qs = Account.objects.filter(line__isnull=False, delivered_at__isnull=False)
    if days is not None:
        qs = qs.filter(delivered_at__gte=now - timedelta(days=days))
    approved = AccountDecision.objects.filter(account_id=OuterRef("pk"), decision=Decision.APPROVED)
    return qs.annotate(is_failed=Exists(approved))


def _label(by: str, value: Any) -> str:
    if value is None or value == "":
        return NONE_KEY
    return str(value)


def quality_report(*, by: str, now: datetime, days: int | None = None) -> list[QualityRow]:
    """One row per supplier / product / import batch with at least one delivered account, the
    highest failure rate first (then the most delivered, then the key)."""
    if by not in KEYS:
        raise ValueError(f"--by must be one of {', '.join(KEYS)}")
    if days is not None and days < 1:
        raise ValueError("days must be at least 1")
    field = _FIELD[by]
    counts = list(
        _delivered(now=now, days=days)
        .order_by()
        .values(field)
        .annotate(delivered=Count("id"), failed=Count("id", filter=Q(is_failed=True)))
    )
    rules: dict[Any, Counter[str]] = defaultdict(Counter)
    failed_decisions = AccountDecision.objects.filter(
        decision=Decision.APPROVED,
        account__in=_delivered(now=now, days=days).values("pk"),
    )
    for value, rule, n in (
        failed_decisions.order_by()
        .values_list(f"account__{field}", "rule")
        .annotate(n=Count("id"))
        .values_list(f"account__{field}", "rule", "n")
    ):
        rules[value][rule or NONE_KEY] += n
    stock = dict(
        Account.objects.filter(state=Account.State.IN_STOCK)
        .order_by()
        .values(field)
        .annotate(n=Count("id"))
        .values_list(field, "n")
    )
    names = _keys_and_names(by, [c[field] for c in counts])
    rows = []
    for c in counts:
        value = c[field]
        # Most common rule; a tie goes to the alphabetically first code (stable output).
        ranked = sorted(rules[value].items(), key=lambda item: (-item[1], item[0]))
        top_rule, top_count = ranked[0] if ranked else ("", 0)
        key, name = names.get(value, (NONE_KEY, NONE_KEY))
        rows.append(
            QualityRow(
                key=key,
                name=name,
                delivered=c["delivered"],
                failed=c["failed"],
                top_rule=top_rule,
                top_rule_count=top_count,
                in_stock=stock.get(value, 0),
                source=value if by != "product" and value not in (None, "") else None,
            )
        )
    rows.sort(key=lambda r: (-r.failure_rate, -r.delivered, r.key))
    return rows


def _keys_and_names(by: str, values: list[Any]) -> dict[Any, tuple[str, str]]:
    """The report's key and a readable name per grouped value: a product by its SKU (never its
    id), an import batch by its number with the file and date, a supplier by itself."""
    if by == "product":
        return {p.id: (p.sku, p.name) for p in Product.objects.filter(id__in=values).order_by()}
    if by == "import_batch":
        return {
            b.id: (str(b.id), f"{b.filename} ({b.created_at:%Y-%m-%d})")
            for b in ImportBatch.objects.filter(id__in=[v for v in values if v]).order_by()
        }
    return {v: (_label(by, v), _label(by, v)) for v in values}


def weekly_supplier_failure(
    *, now: datetime, days: int | None = None, limit: int = 8
) -> list[SupplierSeries]:
    """Per supplier (the `limit` with the most deliveries), the failure rate of each week's
    deliveries. Weeks without deliveries are left out of a series (no invented zeros)."""
    per_week = (
        _delivered(now=now, days=days)
        .annotate(week=TruncWeek("delivered_at"))
        .order_by()
        .values("supplier", "week")
        .annotate(delivered=Count("id"), failed=Count("id", filter=Q(is_failed=True)))
    )
    series: dict[str, list[WeekPoint]] = defaultdict(list)
    totals: Counter[str] = Counter()
    for row in per_week:
        supplier = _label("supplier", row["supplier"])
        week = row["week"].date() if isinstance(row["week"], datetime) else row["week"]
        series[supplier].append(
            WeekPoint(week=week, delivered=row["delivered"], failed=row["failed"])
        )
        totals[supplier] += row["delivered"]
    chosen = sorted(totals, key=lambda s: (-totals[s], s))[:limit]
    return [
        SupplierSeries(supplier=s, points=sorted(series[s], key=lambda p: p.week)) for s in chosen
    ]
