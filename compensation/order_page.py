"""The customer's order page, behind a signed link (`orders.links` owns the token).

The compensation desk owns the page: its URL (`order_page_url`, route `compensation:order_page`),
what it shows (`order_page_read`: the lines, delivered accounts and replacements, each
account's state in its latest request in the words of the result page, the claim window and the
request holding the line's compensation) and its one write, revealing the credentials
through the link (`order_credentials_reveal`, recorded as a `credentials_revealed` event).
E-mailing a fresh link is `services.fresh_links.order_link_request` (in a task).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from compensation import customer_messages as words
from compensation.customer_messages import Sentence
from compensation.customer_states import EarlierRequest, earlier_outcome
from compensation.models import AccountDecision, LineClaim, ReplacementBatch, RequestStatus
from compensation.selectors import OrderAccountState, order_account_states
from inventory.choices import choice_labels
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
    # Its state in the latest request that asked about it (the words of the result page).
    compensation: OrderAccountState | None = None


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
    replacements_waiting: int  # replacements approved that must wait for stock
    status: Sentence  # the request holding the line's compensation, or the window left
    holder_request_id: uuid.UUID | None  # that request (its result page)
    claimable: bool  # the customer may ask for this line now


@dataclass(frozen=True)
class OrderPage:
    order_id: str
    placed_at: datetime
    lines: list[OrderPageLine] = field(default_factory=list)
    revealed: bool = False

    @property
    def claimable_lines(self) -> list[OrderPageLine]:
        return [line for line in self.lines if line.claimable]


def _holders(line_ids: list[int]) -> dict[int, tuple[LineClaim, EarlierRequest]]:
    """Per line, the claim that holds its one compensation (or a request still being checked
    that asks for it) and what became of it so far."""
    claims: dict[int, LineClaim] = {}
    for claim in (
        LineClaim.objects.filter(line_id__in=line_ids)
        .filter(Q(uses_compensation=True) | Q(refusal="", request__status=RequestStatus.CHECKING))
        .select_related("request")
        .order_by("-uses_compensation", "id")
    ):
        claims.setdefault(claim.line_id, claim)
    decisions: dict[int, list[str]] = defaultdict(list)
    for claim_id, decision in AccountDecision.objects.filter(
        claim_id__in=[c.pk for c in claims.values()]
    ).values_list("claim_id", "decision"):
        decisions[claim_id].append(decision)
    return {
        line_id: (
            c,
            earlier_outcome(decisions=decisions[c.pk], still_uses_line=c.uses_compensation),
        )
        for line_id, c in claims.items()
    }


def order_page_read(
    *, order: Order, now: datetime, credentials: dict[int, Credentials] | None = None
) -> OrderPage:
    """Everything the order page shows. Credentials only when passed in."""
    lines = list(order.lines.select_related("product").order_by("id"))
    line_ids = [line.pk for line in lines]
    accounts = (
        Account.objects.filter(line_id__in=line_ids)
        .order_by("delivered_at", "id")
        .defer("credentials_sealed")  # opened only by order_credentials_reveal
    )
    holders = _holders(line_ids)
    states = order_account_states(order_id=order.pk)
    waiting: dict[int, int] = defaultdict(int)
    for line_id, quantity in ReplacementBatch.objects.filter(
        line_id__in=line_ids,
        state=ReplacementBatch.State.WAITING,
        unavailable_notified_at__isnull=False,
    ).values_list("line_id", "quantity"):
        waiting[line_id] += quantity

    by_line: dict[int, list[OrderPageAccount]] = {line_id: [] for line_id in line_ids}
    platforms = choice_labels(Account, "platform")
    for account in accounts:
        assert account.line_id is not None
        by_line[account.line_id].append(
            OrderPageAccount(
                id=account.pk,
                username=account.username,
                platform=platforms.get(account.platform, account.platform),
                delivered_at=account.delivered_at,
                is_replacement=account.delivery_kind == Account.DeliveryKind.COMPENSATION,
                credentials=(credentials or {}).get(account.pk),
                compensation=states.get(account.pk),
            )
        )
    page_lines = []
    for line in lines:
        ends = order.placed_at + timedelta(days=line.product.claim_window_days)
        rows = by_line[line.pk]
        holder, outcome = holders.get(line.pk, (None, None))
        window_open = now <= ends
        days_left = max((ends - now).days, 0)
        page_lines.append(
            OrderPageLine(
                id=line.pk,
                sku=line.product.sku,
                product_name=line.product.name,
                quantity=line.quantity,
                accounts=[a for a in rows if not a.is_replacement],
                replacements=[a for a in rows if a.is_replacement],
                window_ends_at=ends,
                window_open=window_open,
                days_left=days_left,
                compensation_used=holder is not None,
                compensation_used_at=holder.request.received_at if holder else None,
                replacements_waiting=waiting.get(line.pk, 0),
                status=words.line_sentence(
                    holder_received_at=holder.request.received_at if holder else None,
                    holder_outcome=outcome,
                    window_ends_at=ends,
                    window_open=window_open,
                    days_left=days_left,
                ),
                holder_request_id=holder.request_id if holder else None,
                claimable=window_open and holder is None,
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
