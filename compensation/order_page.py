"""The customer's order page, behind a signed link (`orders.links` owns the token).

The compensation desk owns the page: its URL (`order_page_url`, route `compensation:order_page`),
what it shows (`order_page_read`: the lines, delivered accounts and replacements, the claim
window and whether the line's compensation is used) and its one write, revealing the credentials
through the link (`order_credentials_reveal`, recorded as a `credentials_revealed` event).
E-mailing a fresh link is `services.notifications.order_link_resend`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse

from compensation.models import LineClaim, ReplacementBatch
from inventory.crypto import Credentials, credentials_open
from inventory.events import order_credentials_revealed_event
from inventory.models import Account
from orders.links import order_link_issue
from orders.models import Order, OrderLink


def order_page_url(token: str) -> str:
    """The absolute URL of the order page for a link's token (put into e-mails)."""
    return settings.SITE_URL + reverse("compensation:order_page", kwargs={"token": token})


def order_page_link_issue(*, order: Order, now: datetime) -> str:
    """Issue a new order-page link (`orders.links.order_link_issue`) and return its URL."""
    return order_page_url(order_link_issue(order=order, now=now))


@dataclass(frozen=True)
class OrderPageAccount:
    id: int
    username: str
    platform: str
    delivered_at: datetime | None
    is_replacement: bool
    credentials: Credentials | None = None


@dataclass(frozen=True)
class OrderPageLine:
    id: int
    sku: str
    product_name: str
    quantity: int
    accounts: list[OrderPageAccount]
    replacements: list[OrderPageAccount]
    window_ends_at: datetime
    window_open: bool
    days_left: int  # whole days left in the window (0: less than a day)
    compensation_used: bool
    compensation_used_at: datetime | None
    replacements_waiting: int


@dataclass(frozen=True)
class OrderPage:
    order_id: str
    placed_at: datetime
    lines: list[OrderPageLine] = field(default_factory=list)
    revealed: bool = False


def order_page_read(
    *, order: Order, now: datetime, credentials: dict[int, Credentials] | None = None
) -> OrderPage:
    """Everything the order page shows, in four queries. Credentials only when passed in."""
    lines = list(order.lines.select_related("product").order_by("id"))
    line_ids = [line.pk for line in lines]
    accounts = Account.objects.filter(line_id__in=line_ids).order_by("delivered_at", "id")
    used = dict(
        LineClaim.objects.filter(line_id__in=line_ids, uses_compensation=True).values_list(
            "line_id", "request__received_at"
        )
    )
    waiting: dict[int, int] = {}
    for line_id, quantity in ReplacementBatch.objects.filter(
        line_id__in=line_ids, state=ReplacementBatch.State.WAITING
    ).values_list("line_id", "quantity"):
        waiting[line_id] = waiting.get(line_id, 0) + quantity

    by_line: dict[int, list[OrderPageAccount]] = {line_id: [] for line_id in line_ids}
    for account in accounts:
        assert account.line_id is not None
        by_line[account.line_id].append(
            OrderPageAccount(
                id=account.pk,
                username=account.username,
                platform=account.get_platform_display(),
                delivered_at=account.delivered_at,
                is_replacement=account.delivery_kind == Account.DeliveryKind.COMPENSATION,
                credentials=(credentials or {}).get(account.pk),
            )
        )
    page_lines = []
    for line in lines:
        ends = order.placed_at + timedelta(days=line.product.claim_window_days)
        rows = by_line[line.pk]
        page_lines.append(
            OrderPageLine(
                id=line.pk,
                sku=line.product.sku,
                product_name=line.product.name,
                quantity=line.quantity,
                accounts=[a for a in rows if not a.is_replacement],
                replacements=[a for a in rows if a.is_replacement],
                window_ends_at=ends,
                window_open=now <= ends,
                days_left=max((ends - now).days, 0),
                compensation_used=line.pk in used,
                compensation_used_at=used.get(line.pk),
                replacements_waiting=waiting.get(line.pk, 0),
            )
        )
    return OrderPage(
        order_id=order.order_id,
        placed_at=order.placed_at,
        lines=page_lines,
        revealed=credentials is not None,
    )


def order_credentials_reveal(*, link: OrderLink, now: datetime) -> dict[int, Credentials]:
    """Decrypt the credentials of every account on the link's order, and record that it happened
    (one `credentials_revealed` event, actor None: the customer, through the link)."""
    accounts = list(
        Account.objects.filter(line__order_id=link.order_id)
        .order_by("id")
        .only("id", "credentials_sealed")
    )
    opened = {account.pk: credentials_open(account.credentials_sealed) for account in accounts}
    order_credentials_revealed_event(
        order_id=link.order_id, link_id=link.pk, account_ids=[a.pk for a in accounts], now=now
    )
    return opened
