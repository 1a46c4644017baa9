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


QUEUE_CASES = [  # username, sku, e-mail, order, rule, hours waiting, state seen
    (
        "ig_maya.travels",
        "IG-AGED",
        "maya.r@example.com",
        "A2041",
        "suspended_no_interaction",
        31,
        "suspended",
    ),
    (
        "xk_crypto_daily",
        "X-FRESH",
        "jonas.weber@example.de",
        "A2043",
        "interactions_unknown",
        20,
        "locked",
    ),
    (
        "ig_fit.with.lena",
        "IG-AGED",
        "lena.k@example.com",
        "A2047",
        "profile_not_found",
        9,
        "not_found",
    ),
    (
        "tt_dance_mira",
        "TT-1K",
        "sam.p@example.org",
        "A2050",
        "suspended_one_interaction",
        5,
        "suspended",
    ),
    (
        "ig_foodie_tom",
        "IG-AGED",
        "tom.b@verylongcompanydomain-example.com",
        "A2052",
        "locked_no_interaction",
        2,
        "locked",
    ),
    ("x_newsbot_77", "X-FRESH", "anna.s@example.com", "A2055", "status_unavailable", 1, ""),
]


def review_queue_cases(
    *, now: datetime, products: dict[str, Product] | None = None
) -> list[AccountDecision]:
    """Six cases waiting for a person, oldest first, on three products (with plausible names,
    e-mails and evidence); the fifth was held back by claim-rate review."""
    products = dict(products or {})
    names = {
        "IG-AGED": ("Instagram account, aged 2019", "instagram"),
        "X-FRESH": ("X account, fresh", "x"),
        "TT-1K": ("TikTok account, 1k followers", "tiktok"),
    }
    cases = []
    for username, sku, email, order_id, rule, hours, state in QUEUE_CASES:
        if sku not in products:
            name, platform = names[sku]
            products[sku] = make_product(sku=sku, name=name, platform=platform)
        placed = now - timedelta(hours=hours, days=3)
        order = cast(Order, OrderFactory(order_id=order_id, email=email, placed_at=placed))
        line = OrderLine.objects.create(order=order, product=products[sku], quantity=1)
        account = cast(
            Account,
            AccountFactory(
                product=products[sku],
                username=username,
                state=Account.State.DELIVERED,
                line=line,
                delivered_at=placed,
                delivery_kind=Account.DeliveryKind.SALE,
            ),
        )
        asked = now - timedelta(hours=hours)
        request = cast(
            CompensationRequest,
            CompensationRequestFactory(
                order=order,
                received_at=asked,
                status="decided",
                reason="The account was locked the day after I logged in.",
            ),
        )
        claim = LineClaim.objects.create(request=request, line=line, uses_compensation=True)
        observation = (
            {
                "state": state,
                "username": username,
                "user_id": account.platform_user_id,
                "followers": 231,
                "interactions": {
                    "posts": 0,
                    "reposts": 0,
                    "comments": 0,
                    "likes": 1 if "one" in rule else 0,
                    "follows": 0,
                    "messages": 0,
                },
            }
            if state
            else None
        )
        evidence: dict[str, object] = {
            "rule": rule,
            "decision": "manual_review",
            "observation": observation,
            "baseline": {
                "username": username,
                "user_id": account.platform_user_id,
                "followers": 250,
                "interactions": dict.fromkeys(
                    ("posts", "reposts", "comments", "likes", "follows", "messages"), 0
                ),
            },
            "interactions": {
                "deltas": {"likes": 1 if "one" in rule else 0},
                "total": 1 if "one" in rule else 0,
                "complete": state != "locked",
            },
            "status_service": {"error": "timeout" if not state else None, "attempts": 3},
        }
        if rule == "locked_no_interaction":
            evidence["claim_rate_flagged"] = True
        cases.append(
            AccountDecision.objects.create(
                request=request,
                claim=claim,
                account=account,
                decision=Decision.MANUAL_REVIEW,
                rule=rule,
                decided_at=asked,
                review_requested_at=asked,
                evidence=evidence,
            )
        )
    return cases
