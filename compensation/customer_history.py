"""A customer's history with the desk, read by e-mail across all their orders: earlier requests,
accounts approved and rejected, and the claim-rate flag (policy.md, "Optional: claim-rate
review"; thresholds are settings, see docs/decisions.md).

Claim rate = accounts the customer asked about in earlier requests / accounts they bought (sales
delivered to their orders). It is judged on history only: the request being decided does not
count against the customer, and a customer with fewer than `CLAIM_RATE_MIN_CLAIMS` claimed
accounts is never flagged (two unlucky accounts are not a pattern).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, QuerySet

from compensation.models import AccountDecision, CompensationRequest, Decision
from inventory.models import Account

EARLIER_SHOWN = 20


@dataclass(frozen=True)
class EarlierRequest:
    id: uuid.UUID
    order_id: str
    received_at: datetime
    status: str
    decisions: dict[str, int]

    @property
    def accounts(self) -> int:
        return sum(self.decisions.values())

    @property
    def outcome(self) -> str:
        """E.g. "2 approved, 1 rejected", in the order of the decision choices."""
        labels = dict(Decision.choices)
        return ", ".join(
            f"{self.decisions[value]} {str(labels[value]).lower()}"
            for value in Decision.values
            if self.decisions.get(value)
        )


@dataclass(frozen=True)
class CustomerHistory:
    email: str
    earlier: list[EarlierRequest]  # newest first, at most EARLIER_SHOWN
    earlier_total: int
    accounts_bought: int
    accounts_claimed: int
    accounts_approved: int
    accounts_rejected: int
    claim_rate: Decimal | None  # None: nothing bought yet
    flagged: bool
    threshold: Decimal
    min_claims: int


def _threshold() -> Decimal:
    return Decimal(str(settings.CLAIM_RATE_THRESHOLD))


def claim_rate_is_high(*, claimed: int, bought: int) -> bool:
    """The flag: at least CLAIM_RATE_MIN_CLAIMS accounts claimed and claimed / bought at or
    above CLAIM_RATE_THRESHOLD."""
    if claimed < settings.CLAIM_RATE_MIN_CLAIMS or bought <= 0:
        return False
    return Decimal(claimed) / Decimal(bought) >= _threshold()


def _earlier_requests(
    *, email: str, before: datetime, exclude: uuid.UUID | None
) -> QuerySet[CompensationRequest]:
    qs = CompensationRequest.objects.filter(
        order__email__iexact=email.strip(), received_at__lt=before
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs


def _bought(*, email: str, before: datetime) -> int:
    """Accounts delivered as sales to the customer's orders before `before`."""
    return Account.objects.filter(
        line__order__email__iexact=email.strip(),
        delivery_kind=Account.DeliveryKind.SALE,
        delivered_at__lt=before,
    ).count()


def customer_history(
    *, email: str, before: datetime, exclude_request_id: uuid.UUID | None = None
) -> CustomerHistory:
    """Everything the agent should know about this customer before `before` (the moment the
    case's request was received)."""
    requests = _earlier_requests(email=email, before=before, exclude=exclude_request_id)
    total = requests.count()
    shown = list(requests.select_related("order").order_by("-received_at")[:EARLIER_SHOWN])
    per_request: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for request_id, decision, n in (
        AccountDecision.objects.filter(request__in=[r.pk for r in shown])
        .order_by()
        .values_list("request_id", "decision")
        .annotate(n=Count("id"))
        .values_list("request_id", "decision", "n")
    ):
        per_request[request_id][decision] = n
    decisions = AccountDecision.objects.filter(request__in=requests.values("pk"))
    by_decision: Counter[str] = Counter(
        dict(
            decisions.order_by()
            .values("decision")
            .annotate(n=Count("id"))
            .values_list("decision", "n")
        )
    )
    claimed = decisions.order_by().values("account_id").distinct().count()
    bought = _bought(email=email, before=before)
    rate = None
    if bought:
        rate = (Decimal(claimed) / Decimal(bought)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
    return CustomerHistory(
        email=email.strip(),
        earlier=[
            EarlierRequest(
                id=r.pk,
                order_id=r.order.order_id,
                received_at=r.received_at,
                status=r.status,
                decisions=per_request.get(r.pk, {}),
            )
            for r in shown
        ],
        earlier_total=total,
        accounts_bought=bought,
        accounts_claimed=claimed,
        accounts_approved=by_decision[Decision.APPROVED],
        accounts_rejected=by_decision[Decision.REJECTED],
        claim_rate=rate,
        flagged=claim_rate_is_high(claimed=claimed, bought=bought),
        threshold=_threshold(),
        min_claims=settings.CLAIM_RATE_MIN_CLAIMS,
    )


def customer_claim_rate_flagged(
    *, email: str, before: datetime, exclude_request_id: uuid.UUID | None = None
) -> bool:
    """Only the flag (two counts), for the checks service."""
    requests = _earlier_requests(email=email, before=before, exclude=exclude_request_id)
    claimed = (
        AccountDecision.objects.filter(request__in=requests.values("pk"))
        .order_by()
        .values("account_id")
        .distinct()
        .count()
    )
    if claimed < settings.CLAIM_RATE_MIN_CLAIMS:
        return False  # no need to count purchases
    return claim_rate_is_high(claimed=claimed, bought=_bought(email=email, before=before))
