"""The order-page link: signed, expiring, revocable. Issue, resolve and revoke only.

The token is a `django.core.signing` value (order pk + random nonce, signed with SECRET_KEY), so a
tampered token is rejected before the database is asked. Only the sha256 of the token is stored
(`OrderLink.token_hash`): a leaked database does not leak working links, and a link can be
expired (`expires_at`, ORDER_LINK_MAX_AGE_DAYS) or revoked (`revoked_at`) one by one.

The page behind the link (what it shows, the reveal of credentials, e-mailing a fresh link) is the
compensation desk's: `compensation/order_page.py`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction

from inventory.audit import Actor

from .events import order_link_issued_event, order_link_revoked_event
from .models import Order, OrderLink

_SALT = "orders.link.v1"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def order_link_issue(*, order: Order, now: datetime) -> str:
    """Create a new link for the order and return its token, to hand to the customer once (only
    its hash is stored). The page it opens, and so its URL, belongs to the compensation desk
    (`compensation.order_page.order_page_url`)."""
    token = signing.dumps({"o": order.pk, "n": secrets.token_urlsafe(16)}, salt=_SALT)
    with transaction.atomic():
        link = OrderLink.objects.create(
            order=order,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + timedelta(days=settings.ORDER_LINK_MAX_AGE_DAYS),
        )
        order_link_issued_event(link=link, now=now)
    return token


# A link's use is recorded at most once per this interval: a customer reloading the page (or
# several tabs) does not write, commit and lock the same row on every view.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def order_link_resolve(*, token: str, now: datetime) -> OrderLink | None:
    """The live link for a token, or None (bad signature, unknown, expired or revoked). A live
    link records this use in `last_used_at` (one UPDATE, skipped when the recorded use is less
    than LAST_USED_GRANULARITY old; usage, not a state change, so no audit event: a page view is
    not an action)."""
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
    if link.last_used_at is None or now - link.last_used_at >= LAST_USED_GRANULARITY:
        OrderLink.objects.filter(pk=link.pk).update(last_used_at=now)
        link.last_used_at = now
    return link


def order_links_revoke_all(*, order_id: int, actor: Actor, now: datetime) -> int:
    """Revoke every live link of an order (e.g. the customer's mailbox was compromised); one
    event per link. Returns how many were revoked."""
    with transaction.atomic():
        links = list(
            OrderLink.objects.select_for_update()
            .filter(order_id=order_id, revoked_at__isnull=True)
            .order_by("pk")
        )
        for link in links:
            link.revoked_at = now
            link.save(update_fields=["revoked_at"])
            order_link_revoked_event(link=link, actor=actor, now=now)
    return len(links)


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
