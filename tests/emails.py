"""Reading what the shop sent (the e-mails in `django.core.mail.outbox`)."""

from __future__ import annotations

import re

ORDER_LINK = re.compile(r"https?://\S+/orders/link/[^/\s]+/")


def link_in(body: object) -> str:
    """The order-page URL in an e-mail body."""
    match = ORDER_LINK.search(str(body))
    assert match is not None, "no order link in the e-mail"
    return match.group(0)
