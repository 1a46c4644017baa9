"""Keep order-page tokens out of log lines.

The signed token of a customer's order page is in the page's URL, and Django logs the path of
every 4xx/5xx answer ("Not Found: /orders/link/<token>/", "Forbidden (CSRF cookie not set.):
/orders/link/<token>/"). A CSRF failure happens on a *valid* link, so that line would hand a
working link to whoever reads the logs. This filter rewrites the message before any handler sees
it. It imports nothing from Django's models: logging is configured before the apps are loaded.
"""

from __future__ import annotations

import logging
import re

_TOKEN_IN_PATH = re.compile(r"(/orders/link/)[^/\s\"']+")
REDACTED = r"\1<redacted>"


def redact_order_link_tokens(text: str) -> str:
    return _TOKEN_IN_PATH.sub(REDACTED, text)


class RedactOrderLinkTokens(logging.Filter):
    """Replace the token of any order-page path in a record's message (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return True
        redacted = redact_order_link_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
