"""The hand-built quality case: two suppliers, known outcomes (quality report tests and pages).

Built through the real services: sales marked delivered by the allocation path's compare-and-set,
approvals through the one approval path (rules = no actor, staff = a manager), replacements
delivered by the FIFO drain from stock (which decides which supplier's account goes out).

Alpha (import batches IA1: 4 x IG-AGED, IA2: 2 x X-FRESH) and Beta (IB1: 4 x IG-AGED, plus one
account sold 40 days ago from IB0):
- order O1 (IG-AGED x3): a1 approved by the rules (locked_no_interaction), a2 approved by staff
  (suspended_no_interaction), a3 rejected;
- order O2 (IG-AGED x2): b1 rejected, b2 approved by the rules (locked_one_interaction);
- order O3 (X-FRESH x2): c1 approved by the rules (locked_no_interaction), c2 waiting for a person;
- order O4 40 days ago (IG-AGED x1): b0 approved by staff;
- IG-AGED stock after the sales is a4 (Alpha), b3, b4 (Beta). The drain serves the batches by
  approval time: O4's (b0) gets a4, O1's two get b3 and b4, O2's waits; the X-FRESH batch waits.

All time: Alpha delivered a1 a2 a3 a4 c1 c2 = 6, failed a1 a2 c1 = 3; Beta delivered b0..b4 = 5,
failed b0 b2 = 2. In the last 30 days b0 (40 days ago) drops out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from compensation.models import AccountDecision, CompensationRequest, Decision, LineClaim
from compensation.services.approval import decisions_approve
from compensation.services.fulfilment import batches_fulfil
from inventory.models import Account, ImportBatch, Product
from inventory.services import accounts_mark_delivered
from orders.models import Order, OrderLine

from .factories.compensation import CompensationRequestFactory, manager
from .factories.inventory import AccountFactory, ProductFactory
from .factories.orders import OrderFactory

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)  # a Friday: the week of Monday 10 March


def _batch(name: str) -> ImportBatch:
    return ImportBatch.objects.create(kind=ImportBatch.Kind.STOCK, filename=name, sha256="0" * 64)


def stock_accounts(n: int, *, product: Product, supplier: str, batch: ImportBatch) -> list[Account]:
    return cast(
        list[Account],
        AccountFactory.create_batch(n, product=product, supplier=supplier, import_batch=batch),
    )


def _sell(accounts: list[Account], *, product: Product, at: datetime, order_id: str) -> OrderLine:
    order = cast(Order, OrderFactory(order_id=order_id, placed_at=at))
    line = OrderLine.objects.create(order=order, product=product, quantity=len(accounts))
    accounts_mark_delivered(
        account_ids=[a.pk for a in accounts], line_id=line.pk, kind="sale", now=at
    )
    return line


def _request(line: OrderLine, outcomes: list[tuple[Account, str, str]], *, at: datetime) -> dict:
    request = cast(
        CompensationRequest, CompensationRequestFactory(order=line.order, received_at=at)
    )
    claim = LineClaim.objects.create(request=request, line=line)
    return {
        account.username: AccountDecision.objects.create(
            request=request,
            claim=claim,
            account=account,
            decision=decision,
            rule=rule,
            decided_at=at,
            review_requested_at=at if decision == Decision.MANUAL_REVIEW else None,
        )
        for account, decision, rule in outcomes
    }


def build_quality_case() -> dict[str, Any]:
    now = NOW
    staff = manager("quality-manager")
    ig = cast(Product, ProductFactory(sku="IG-AGED", name="Instagram account, aged 2019"))
    x = cast(Product, ProductFactory(sku="X-FRESH", name="X account, fresh", platform="x"))
    ib0 = _batch("beta-old.csv")
    b0 = stock_accounts(1, product=ig, supplier="Beta", batch=ib0)
    ia1, ia2, ib1 = _batch("alpha-ig.csv"), _batch("alpha-x.csv"), _batch("beta-ig.csv")
    a = stock_accounts(4, product=ig, supplier="Alpha", batch=ia1)
    c = stock_accounts(2, product=x, supplier="Alpha", batch=ia2)
    b = stock_accounts(4, product=ig, supplier="Beta", batch=ib1)

    old = now - timedelta(days=40)
    o4 = _sell(b0, product=ig, at=old, order_id="O4")
    o1 = _sell(a[:3], product=ig, at=now - timedelta(days=3), order_id="O1")
    o2 = _sell(b[:2], product=ig, at=now - timedelta(days=3), order_id="O2")
    o3 = _sell(c, product=x, at=now - timedelta(days=2), order_id="O3")

    r4 = _request(o4, [(b0[0], Decision.MANUAL_REVIEW, "suspended_no_interaction")], at=old)
    decisions_approve(decision_ids=[r4[b0[0].username].pk], actor=staff, now=old)
    when = now - timedelta(days=1)
    r1 = _request(
        o1,
        [
            (a[0], Decision.PENDING, ""),
            (a[1], Decision.MANUAL_REVIEW, "suspended_no_interaction"),
            (a[2], Decision.REJECTED, "appears_active"),
        ],
        at=when,
    )
    decisions_approve(
        decision_ids=[r1[a[0].username].pk], actor=None, now=when, rule="locked_no_interaction"
    )
    decisions_approve(decision_ids=[r1[a[1].username].pk], actor=staff, now=when)
    r2 = _request(
        o2,
        [(b[0], Decision.REJECTED, "multiple_interactions"), (b[1], Decision.PENDING, "")],
        at=when,
    )
    decisions_approve(
        decision_ids=[r2[b[1].username].pk], actor=None, now=when, rule="locked_one_interaction"
    )
    r3 = _request(
        o3,
        [(c[0], Decision.PENDING, ""), (c[1], Decision.MANUAL_REVIEW, "profile_not_found")],
        at=when,
    )
    decisions_approve(
        decision_ids=[r3[c[0].username].pk], actor=None, now=when, rule="locked_no_interaction"
    )
    assert batches_fulfil(product_id=ig.pk, now=now) == 3  # O4's, then O1's two; O2's waits
    assert batches_fulfil(product_id=x.pk, now=now) == 0  # no X-FRESH stock: waits
    # Stock arriving afterwards: what a manager could still retire.
    spare_alpha = stock_accounts(2, product=ig, supplier="Alpha", batch=ia1)
    spare_beta = stock_accounts(1, product=ig, supplier="Beta", batch=ib1)
    return {
        "now": now,
        "staff": staff,
        "ig": ig,
        "x": x,
        "batches": {"IB0": ib0, "IA1": ia1, "IA2": ia2, "IB1": ib1},
        "spare_alpha": spare_alpha,
        "spare_beta": spare_beta,
        "a": a,
        "b": b,
    }
