"""Plausible back-office data for the browser tests and the docs' screenshots: three suppliers
selling two products over eight weeks with different failure rates, deterministic (seeded)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import cast

from compensation.models import (
    AccountDecision,
    CompensationRequest,
    Decision,
    LineClaim,
    ReplacementBatch,
)
from inventory.models import Account, ImportBatch, Product
from orders.models import Order, OrderLine

from ..factories.compensation import CompensationRequestFactory
from ..factories.inventory import AccountFactory, make_product
from ..factories.orders import OrderFactory

SUPPLIERS = {  # name -> weekly failure probability, from eight weeks ago to now
    "Northwind Accounts": [0.05, 0.04, 0.06, 0.05, 0.03, 0.05, 0.04, 0.05],
    "Blue Harbor": [0.10, 0.12, 0.08, 0.11, 0.09, 0.10, 0.12, 0.10],
    "Cedar Supply": [0.06, 0.08, 0.10, 0.18, 0.26, 0.35, 0.41, 0.45],
}
RULES = [
    "locked_no_interaction",
    "locked_no_interaction",
    "locked_one_interaction",
    "followers_decreased",
]


def quality_history(*, now: datetime, seed: int = 11) -> dict[str, Product]:
    rng = random.Random(seed)
    products = {
        "IG-AGED": make_product(sku="IG-AGED", name="Instagram account, aged 2019"),
        "X-FRESH": make_product(sku="X-FRESH", name="X account, fresh", platform="x"),
    }
    order_number = 5000
    for supplier, rates in SUPPLIERS.items():
        for week, rate in enumerate(rates):
            sold_at = now - timedelta(weeks=len(rates) - week, days=-2)
            batch = ImportBatch.objects.create(
                kind=ImportBatch.Kind.STOCK,
                filename=f"{supplier.split()[0].lower()}-{sold_at:%Y-%m-%d}.csv",
                sha256=f"{order_number:064d}",
            )
            for sku, product in products.items():
                quantity = rng.randint(8, 14) if sku == "IG-AGED" else rng.randint(3, 6)
                order_number += 1
                order = cast(
                    Order,
                    OrderFactory(
                        order_id=f"A{order_number}", placed_at=sold_at - timedelta(hours=1)
                    ),
                )
                line = OrderLine.objects.create(order=order, product=product, quantity=quantity)
                accounts = AccountFactory.create_batch(
                    quantity,
                    product=product,
                    supplier=supplier,
                    import_batch=batch,
                    state=Account.State.DELIVERED,
                    line=line,
                    delivered_at=sold_at,
                    delivery_kind=Account.DeliveryKind.SALE,
                )
                failed = [a for a in accounts if rng.random() < rate]
                if failed:
                    _approved(line=line, accounts=failed, at=sold_at + timedelta(days=2), rng=rng)
            AccountFactory.create_batch(
                rng.randint(2, 9),
                product=products["IG-AGED"],
                supplier=supplier,
                import_batch=batch,
            )
    return products


def _approved(
    *, line: OrderLine, accounts: list[Account], at: datetime, rng: random.Random
) -> None:
    request = cast(
        CompensationRequest, CompensationRequestFactory(order=line.order, received_at=at)
    )
    claim = LineClaim.objects.create(request=request, line=line, uses_compensation=True)
    batch = ReplacementBatch.objects.create(
        line=line,
        product=line.product,
        request=request,
        quantity=len(accounts),
        approved_at=at,
        state=ReplacementBatch.State.DELIVERED,
        delivered_at=at,
    )
    for account in accounts:
        AccountDecision.objects.create(
            request=request,
            claim=claim,
            account=account,
            decision=Decision.APPROVED,
            rule=rng.choice(RULES),
            decided_at=at,
            batch=batch,
        )
