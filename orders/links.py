"""The order page link: signed, expiring, revocable.

The token is a `django.core.signing` value (order pk + random nonce, signed with SECRET_KEY), so a
tampered token is rejected before the database is asked. Only the sha256 of the token is stored
(`OrderLink.token_hash`): a leaked database does not leak working links, and a link can be
expired (`expires_at`, ORDER_LINK_MAX_AGE_DAYS) or revoked (`revoked_at`) one by one.

Also here: the read model of the order page and the one service that reveals credentials through a
link (it records a `credentials_revealed` event).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from inventory.audit import Actor
from inventory.crypto import Credentials, credentials_open
from inventory.events import order_credentials_revealed_event
from inventory.models import Account

from .events import order_link_issued_event, order_link_revoked_event
from .models import Order, OrderLink

_SALT = "orders.link.v1"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def order_link_url(token: str) -> str:
    return settings.SITE_URL + reverse("compensation:order_page", kwargs={"token": token})


def order_link_issue(*, order: Order, now: datetime) -> str:
    """Create a new link for the order and return its absolute URL (the token is not stored)."""
    token = signing.dumps({"o": order.pk, "n": secrets.token_urlsafe(16)}, salt=_SALT)
    with transaction.atomic():
        link = OrderLink.objects.create(
            order=order,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + timedelta(days=settings.ORDER_LINK_MAX_AGE_DAYS),
        )
        order_link_issued_event(link=link, now=now)
    return order_link_url(token)


def order_link_resolve(*, token: str, now: datetime) -> OrderLink | None:
    """The live link for a token, or None (bad signature, unknown, expired or revoked)."""
    try:
        payload = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    link = OrderLink.objects.select_related("order").filter(token_hash=_token_hash(token)).first()
    if link is None or link.order_id != payload.get("o"):
        return None
    if link.revoked_at is not None or link.expires_at <= now:
        return None
    return link


def order_link_revoke(*, link_id: int, actor: Actor, now: datetime) -> bool:
    """Revoke one link; False when it was already revoked (nothing written then)."""
    with transaction.atomic():
        link = OrderLink.objects.select_for_update().filter(pk=link_id).first()
        if link is None or link.revoked_at is not None:
            return False
        link.revoked_at = now
        link.save(update_fields=["revoked_at"])
        order_link_revoked_event(link=link, actor=actor, now=now)
    return True


def order_link_resend(*, order_id: str, now: datetime) -> None:
    """E-mail a fresh link to the address stored on the order, if the order exists.

    Returns nothing either way: the caller must answer the same whether the order exists or not.
    The link itself is issued when the e-mail is sent (the token never sits in a task argument).
    """
    from compensation.services.notifications import notify_order_link

    order = Order.objects.filter(order_id=order_id.strip()).first()
    if order is None:
        return
    with transaction.atomic():
        notify_order_link(order=order, now=now)


# --- the order page ----------------------------------------------------------------------------


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
    """Everything the order page shows, in three queries. Credentials only when passed in."""
    from compensation.models import LineClaim, ReplacementBatch

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
